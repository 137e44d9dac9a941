/**
 * Fault schedules for `corral fuzz`: which fault, on which VMs, when and
 * for how long — drawn from a seed, written as ordinary recipe steps (a
 * timeline of faults, their heals and the sleeps between), and made
 * smaller, one change at a time, when a run fails.
 *
 * @module
 */

import { unsafeUniformIntDistribution, xoroshiro128plus } from "pure-rand";

/** One fault of a schedule. */
export interface ScheduledFault {
  /** The fault's step key: `stall`, `partition`, `kill`, … */
  fault: string;
  /** Its value as the step gives it (`{}`, `down`, `{ offset: "+5m" }`). */
  options: unknown;
  /** The VMs it is applied to. */
  on: string[];
  /** When it starts, in ms after the schedule starts. */
  at: number;
  /** How long it lasts, in ms. */
  for: number;
}

/** What a schedule may draw. */
export interface DrawOptions {
  /** Each fault kind that may be drawn, with the VMs that can take it. */
  faults: readonly { fault: string; vms: readonly string[] }[];
  /** The window faults are drawn into, in ms. */
  duration: number;
  /** At most this many faults (at least one is drawn). */
  maxFaults: number;
  /** How many of a fault's VMs one fault targets, as Jepsen's nemeses pick. */
  targets: readonly TargetCount[];
}

/** How many VMs a fault targets: one, a minority, a majority, or all that can take it. */
export type TargetCount = "one" | "minority" | "majority" | "all";

/** The fault kinds `fuzz` knows how to draw and recover from. */
export const FUZZ_FAULTS: Record<string, FuzzFault> = {
  partition: { draw: () => ({}), recover: "heal" },
  stall: { draw: () => ({}), recover: "heal" },
  pause: { draw: () => ({}), recover: "resume" },
  kill: { draw: () => ({}), recover: "start" },
  link: { draw: () => "down", recover: "heal" },
  netem: {
    draw: (pick) => pick([{ loss: "30%" }, { loss: "100%" }, { delay: "200ms" }]),
    recover: "heal",
  },
  clock: { draw: (pick) => ({ offset: pick(["+5m", "-5m", "+2h"]) }), recover: "heal" },
  "disk-fault": {
    draw: (pick) => ({ error: pick(["eio", "enospc"]), ops: pick(["write", "all"]) }),
    recover: "heal",
  },
  "disk-throttle": { draw: (pick) => ({ iops: pick([10, 50]) }), recover: "heal" },
  "cpu-limit": { draw: (pick) => ({ percent: pick([10, 25, 50]) }), recover: "heal" },
};

/** How `fuzz` draws one kind of fault, and the step that ends it. */
export interface FuzzFault {
  /** The step's value, drawn with `pick`. */
  draw(pick: <T>(items: readonly T[]) => T): unknown;
  /** What ends it: `heal: { step }`, `resume`, or `start` (a killed QEMU). */
  recover: "heal" | "resume" | "start";
}

/** Windows and starts are whole tenths of a second; no window is shorter than this. */
export const GRAIN_MS = 100;
const SHORTEST_MS = 2 * GRAIN_MS;

/**
 * Draw a schedule from `seed`: one to `maxFaults` faults, each on VMs that
 * can take it and that no other fault holds at the same time.
 *
 * @example
 * ```ts
 * import { drawSchedule } from "./schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const options = {
 *   faults: [{ fault: "stall", vms: ["a", "b", "c"] }],
 *   duration: 5000, maxFaults: 3, targets: ["one" as const],
 * };
 * const schedule = drawSchedule(7, options);
 * assert.deepEqual(schedule, drawSchedule(7, options));
 * assert.ok(schedule.faults.every((f) => f.on.length === 1 && f.at + f.for <= 5000));
 * ```
 */
export function drawSchedule(seed: number, options: DrawOptions): Schedule {
  const rng = xoroshiro128plus(seed);
  const int = (min: number, max: number) => unsafeUniformIntDistribution(min, max, rng);
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  const slots = Math.floor(options.duration / GRAIN_MS);
  const faults: ScheduledFault[] = [];
  const count = int(1, options.maxFaults);
  for (let tries = 0; faults.length < count && tries < count * 10; tries++) {
    const { fault, vms } = pick(options.faults);
    const at = int(0, slots - SHORTEST_MS / GRAIN_MS) * GRAIN_MS;
    const length = int(SHORTEST_MS / GRAIN_MS, slots - at / GRAIN_MS) * GRAIN_MS;
    const window = { at, for: length };
    const free = vms.filter((vm) => !faults.some((f) => f.on.includes(vm) && overlap(f, window)));
    const wanted = countOf(pick(options.targets), vms.length);
    if (free.length < wanted || wanted === 0) continue;
    const on = shuffled(free, int).slice(0, wanted).sort();
    faults.push({ fault, options: FUZZ_FAULTS[fault]!.draw(pick), on, ...window });
  }
  return { faults: faults.sort((a, b) => a.at - b.at) };
}

/** A schedule: its faults, by start. */
export interface Schedule {
  /** The faults, ordered by when they start. */
  faults: ScheduledFault[];
}

function countOf(count: TargetCount, of: number): number {
  if (count === "one") return Math.min(1, of);
  if (count === "all") return of;
  const majority = Math.floor(of / 2) + 1;
  return count === "majority" ? majority : Math.max(1, majority - 1);
}

function shuffled<T>(items: readonly T[], int: (min: number, max: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function overlap(a: { at: number; for: number }, b: { at: number; for: number }): boolean {
  return a.at < b.at + b.for && b.at < a.at + a.for;
}

/** Whether no VM takes two faults at once (one would block the other's steps). */
export function isValid(schedule: Schedule): boolean {
  const { faults } = schedule;
  return faults.every((a, i) =>
    faults.slice(i + 1).every((b) => !overlap(a, b) || !a.on.some((vm) => b.on.includes(vm)))
  );
}

/**
 * The schedules one change smaller than `schedule`: every fault earlier
 * (the first at 0: every later run is shorter), a fault fewer, a target
 * fewer, a window half as long, a fault half as early. Each is smaller by
 * (faults, targets, total length, total start), so shrinking ends.
 *
 * @example
 * ```ts
 * import { smaller } from "./schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const stall = { fault: "stall", options: {}, on: ["a"], at: 0, for: 800 };
 * const [first] = smaller({ faults: [stall, { ...stall, on: ["b"] }] });
 * assert.deepEqual(first, { faults: [{ ...stall, on: ["b"] }] });
 * ```
 */
export function smaller(schedule: Schedule): Schedule[] {
  const { faults } = schedule;
  const replace = (i: number, fault: ScheduledFault | undefined): Schedule => ({
    faults: faults.flatMap((f, j) => j !== i ? [f] : fault ? [fault] : [])
      .sort((a, b) => a.at - b.at),
  });
  const half = (ms: number, least: number) =>
    Math.max(least, Math.floor(ms / 2 / GRAIN_MS) * GRAIN_MS);
  // Earlier first: every later run is shorter.
  const first = faults[0]?.at ?? 0;
  const out: Schedule[] = first > 0
    ? [{ faults: faults.map((f) => ({ ...f, at: f.at - first })) }]
    : [];
  out.push(...faults.map((_, i) => replace(i, undefined)));
  faults.forEach((f, i) => {
    if (f.on.length > 1) {
      for (const vm of f.on) out.push(replace(i, { ...f, on: f.on.filter((v) => v !== vm) }));
    }
  });
  faults.forEach((f, i) => {
    if (f.for > SHORTEST_MS) out.push(replace(i, { ...f, for: half(f.for, SHORTEST_MS) }));
  });
  faults.forEach((f, i) => {
    if (f.at > 0) out.push(replace(i, { ...f, at: half(f.at, 0) }));
  });
  return out.filter(isValid);
}

/** What {@linkcode shrink} found. */
export interface Shrunk {
  /** The smallest schedule that failed, and failed again when re-run. */
  schedule: Schedule;
  /** How many schedules were run. */
  runs: number;
  /** Whether no smaller schedule failed (else the budget ran out, or it was stopped). */
  complete: boolean;
  /** Whether the last re-run failed too (else `schedule` is the one that first failed). */
  confirmed: boolean;
}

/**
 * Shrink a failing schedule: run the {@linkcode smaller} ones in turn and
 * keep the first that still `fails`, until none does or `budget` runs are
 * spent. Timing makes a failure near its bound flaky, so the result is run
 * once more; if it passes, the previous (larger) one is tried, and so on.
 *
 * @example Shrinking to the two faults that overlap
 * ```ts
 * import { type Schedule, type ScheduledFault, shrink } from "./schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const f = (on: string, at: number): ScheduledFault =>
 *   ({ fault: "stall", options: {}, on: [on], at, for: 800 });
 * const start = { faults: [f("c", 0), f("a", 400), f("b", 600)] };
 * const both = (s: Schedule) =>
 *   Promise.resolve(["a", "b"].every((vm) => s.faults.some((x) => x.on[0] === vm)));
 * const { schedule } = await shrink(start, both, 100);
 * assert.deepEqual(schedule.faults.map((x) => x.on[0]), ["a", "b"]);
 * ```
 */
export async function shrink(
  start: Schedule,
  fails: (schedule: Schedule) => Promise<boolean>,
  budget: number,
  stop?: AbortSignal,
): Promise<Shrunk> {
  const kept = [start];
  const tried = new Set<string>(); // a candidate that passed once is not run again
  let runs = 0;
  let complete = false;
  search: while (!stop?.aborted) {
    for (const candidate of smaller(kept.at(-1)!)) {
      const key = JSON.stringify(candidate);
      if (tried.has(key)) continue;
      if (runs >= budget || stop?.aborted) break search;
      runs++;
      tried.add(key);
      if (await fails(candidate)) {
        kept.push(candidate);
        continue search;
      }
    }
    complete = true;
    break;
  }
  while (kept.length > 1 && !stop?.aborted) {
    runs++;
    if (await fails(kept.at(-1)!)) {
      return { schedule: kept.at(-1)!, runs, complete, confirmed: true };
    }
    kept.pop();
    complete = false;
  }
  return { schedule: kept[0]!, runs, complete, confirmed: false };
}

/** One line for a fault: `stall on a, b from 1.2 s for 0.8 s`. */
export function describeFault(fault: ScheduledFault): string {
  const value = typeof fault.options === "string"
    ? ` ${fault.options}`
    : Object.keys(fault.options as object).length
    ? ` ${JSON.stringify(fault.options)}`
    : "";
  return `${fault.fault}${value} on ${fault.on.join(", ")} from ${seconds(fault.at)} for ${
    seconds(fault.for)
  }`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A recipe step, as YAML would give it. */
export type StepData = Record<string, unknown>;

/**
 * The schedule as a timeline of ordinary steps: each fault (with an id),
 * the step that ends it, the sleeps between (on `clock`, one VM, so a
 * sleep is one wait), and `settle` of quiet at the end. Fault and heal
 * steps are `continue-on-error`: a fault that cannot be applied is not the
 * system's failure.
 */
export function scheduleSteps(schedule: Schedule, clock: string, settle: number): StepData[] {
  const timeline = schedule.faults.flatMap((fault, i) => {
    const id = `fuzz-${i + 1}`;
    const recover = FUZZ_FAULTS[fault.fault]?.recover ?? "heal";
    const end: StepData = recover === "heal"
      ? { heal: { step: id } }
      : recover === "resume"
      ? { resume: {} }
      : { start: {} };
    return [
      {
        ms: fault.at,
        step: {
          name: `fuzz: ${id} ${fault.fault} ${fault.on.join(", ")}`,
          id,
          on: fault.on,
          [fault.fault]: fault.options,
        },
      },
      { ms: fault.at + fault.for, step: { name: `fuzz: ${id} ends`, on: fault.on, ...end } },
    ];
  }).sort((a, b) => a.ms - b.ms);
  const steps: StepData[] = [];
  let now = 0;
  for (const { ms, step } of timeline) {
    if (ms > now) {
      steps.push({ name: `fuzz: until ${seconds(ms)}`, on: clock, sleep: `${ms - now}ms` });
    }
    now = Math.max(now, ms);
    steps.push({ ...step, "continue-on-error": true });
  }
  steps.push({ name: "fuzz: settle", on: clock, sleep: `${settle}ms` });
  return steps;
}
