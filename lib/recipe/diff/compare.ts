/**
 * Two runs of one recipe compared, per VM and step: verdicts, each step's
 * outcome and reply shape on each VM, each VM's sequence of QMP events
 * (names and data shapes, not times) and the metrics (within a tolerance).
 * What `corral diff` prints, one difference a line.
 *
 * @module
 */

import type { ReportEvent, RunJournal, StepRecord } from "../journal.ts";
import { shapeDiff, shapeOf } from "./shape.ts";

/** One run to compare: a name for it, its journal and its events. */
export interface RunRecord {
  /** What the lines call it: `A`, `B`. */
  name: string;
  /** Its journal. */
  journal: RunJournal;
  /** Its QMP events, as `events.jsonl` holds them. */
  events: readonly ReportEvent[];
}

/** One difference between two runs. */
export interface Difference {
  /** What differs: the verdict, a step, a reply, the events, a metric. */
  kind: "verdict" | "step" | "reply" | "events" | "metric";
  /** Where: `step 'status' on a`, `events of a`, `metric recovery on a`. */
  where: string;
  /** How. */
  what: string;
}

/** How close metrics must be to count as the same. */
export interface Tolerance {
  /** The share two values may differ by, of the larger (0.2: 20 %). */
  relative: number;
  /** ms (or % points) under which a difference is noise. */
  absolute: number;
}

/**
 * Every difference between the runs of one recipe on `a` and on `b` (each
 * run as many times; at least once). A difference in a step, a reply or
 * the events counts when every pairing of the i-th runs shows it (one that
 * comes and goes is timing); a metric, when its values on `a` and on `b`
 * lie further apart than the tolerance (their ranges, over the runs).
 *
 * @example
 * ```ts
 * import { compareRuns } from "./compare.ts";
 * import assert from "node:assert/strict";
 *
 * const journal = { verdict: "pass", steps: [], metrics: [] } as never;
 * const a = { name: "A", journal, events: [{ ms: 1, vm: "a", event: "STOP" }] };
 * const b = { name: "B", journal, events: [] };
 * assert.deepEqual(compareRuns([a], [b], { relative: 0.2, absolute: 5 }), [
 *   { kind: "events", where: "events of a", what: "STOP (1st) only in A" },
 * ]);
 * ```
 */
export function compareRuns(
  a: readonly RunRecord[],
  b: readonly RunRecord[],
  tolerance: Tolerance,
): Difference[] {
  const pairings = a.map((run, i) => comparePair(run, b[i]!));
  const key = (d: Difference) => JSON.stringify(d);
  const steady = pairings[0]!.filter((d) =>
    pairings.every((found) => found.some((other) => key(other) === key(d)))
  );
  return [...steady, ...compareMetrics(a, b, tolerance)];
}

/** What differs between two runs, metrics aside. */
function comparePair(a: RunRecord, b: RunRecord): Difference[] {
  const names = [a.name, b.name];
  const out: Difference[] = [];
  if (a.journal.verdict !== b.journal.verdict) {
    out.push({
      kind: "verdict",
      where: "the run",
      what: `${a.journal.verdict} in ${a.name}, ${b.journal.verdict} in ${b.name}`,
    });
  }
  out.push(...compareSteps(a.journal.steps, b.journal.steps, names));
  const vms = [...new Set([...a.events, ...b.events].map((e) => e.vm))].sort();
  for (const vm of vms) {
    const of = (run: RunRecord) => run.events.filter((e) => e.vm === vm);
    for (const what of compareEvents(of(a), of(b), names)) {
      out.push({ kind: "events", where: `events of ${vm}`, what });
    }
  }
  return out;
}

function compareSteps(a: readonly StepRecord[], b: readonly StepRecord[], names: string[]) {
  const out: Difference[] = [];
  const key = (s: StepRecord) => `${s.path} ${s.name}`;
  const inB = new Map(b.map((s) => [key(s), s]));
  for (const step of a) {
    const other = inB.get(key(step));
    inB.delete(key(step));
    if (!other) {
      out.push({ kind: "step", where: `step '${step.name}'`, what: `ran only in ${names[0]}` });
      continue;
    }
    for (const target of step.targets) {
      const there = other.targets.find((t) => t.vm === target.vm);
      const where = `step '${step.name}' on ${target.vm}`;
      if (!there) {
        out.push({ kind: "step", where, what: `ran only in ${names[0]}` });
      } else if (there.status !== target.status) {
        const why = (t: typeof target) => t.error ? ` (${t.error})` : "";
        out.push({
          kind: "step",
          where,
          what: `${target.status} in ${names[0]}${why(target)}, ${there.status} in ${names[1]}${
            why(there)
          }`,
        });
      } else if (target.output !== undefined || there.output !== undefined) {
        for (
          const what of shapeDiff(shapeOf(target.output), shapeOf(there.output), "reply", names)
        ) {
          out.push({ kind: "reply", where, what });
        }
      }
    }
  }
  for (const step of inB.values()) {
    out.push({ kind: "step", where: `step '${step.name}'`, what: `ran only in ${names[1]}` });
  }
  return out;
}

/**
 * A VM's events in order, matched by name (the longest common sequence),
 * then the matched ones by data shape. Repeats of one event in a row (the
 * same name and shape) count once: how many a guest sends while it
 * reboots, say, depends on timing, not on the build.
 */
function compareEvents(
  all: readonly ReportEvent[],
  others: readonly ReportEvent[],
  names: string[],
) {
  const out: string[] = [];
  const [a, b] = [collapsed(all), collapsed(others)];
  const pairs = lcs(a.map((e) => e.event), b.map((e) => e.event));
  let [i, j] = [0, 0];
  const only = (event: ReportEvent, n: number, name: string) =>
    out.push(`${event.event} (${ordinal(n + 1)}) only in ${name}`);
  for (const [pi, pj] of [...pairs, [a.length, b.length] as const]) {
    for (; i < pi; i++) only(a[i]!, i, names[0]!);
    for (; j < pj; j++) only(b[j]!, j, names[1]!);
    if (pi === a.length) break;
    const path = `${a[pi]!.event} (${ordinal(pi + 1)}) data`;
    out.push(...shapeDiff(shapeOf(a[pi]!.data), shapeOf(b[pj]!.data), path, names));
    [i, j] = [pi + 1, pj + 1];
  }
  return out;
}

function collapsed(events: readonly ReportEvent[]): ReportEvent[] {
  const key = (e: ReportEvent) => `${e.event} ${JSON.stringify(shapeOf(e.data))}`;
  return events.filter((e, i) => i === 0 || key(e) !== key(events[i - 1]!));
}

/** The index pairs of a longest common subsequence of `a` and `b`. */
function lcs(a: readonly string[], b: readonly string[]): [number, number][] {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i]![j] = a[i] === b[j]
        ? table[i + 1]![j + 1]! + 1
        : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] === b[j]) pairs.push([i++, j++]);
    else if (table[i + 1]![j]! >= table[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

/** Metrics whose values on `a` and on `b` (ranges over the runs) lie beyond the tolerance. */
function compareMetrics(a: readonly RunRecord[], b: readonly RunRecord[], tolerance: Tolerance) {
  const out: Difference[] = [];
  const [nameA, nameB] = [a[0]!.name, b[0]!.name];
  for (const metric of a[0]!.journal.metrics) {
    const values = (runs: readonly RunRecord[], vm: string) =>
      runs.flatMap((r) => r.journal.metrics.find((m) => m.name === metric.name)?.values[vm] ?? []);
    const vms = new Set(
      [a, b].flatMap((runs) =>
        runs.flatMap((r) =>
          Object.keys(r.journal.metrics.find((m) => m.name === metric.name)?.values ?? {})
        )
      ),
    );
    const unit = metric.unit ?? "ms";
    for (const vm of [...vms].sort()) {
      const [x, y] = [values(a, vm), values(b, vm)];
      const where = `metric ${metric.name} on ${vm}`;
      if (!x.length || !y.length) {
        out.push({ kind: "metric", where, what: `measured only in ${x.length ? nameA : nameB}` });
        continue;
      }
      const [lowX, highX, lowY, highY] = [
        Math.min(...x),
        Math.max(...x),
        Math.min(...y),
        Math.max(...y),
      ];
      const gap = Math.max(lowY - highX, lowX - highY);
      const larger = Math.max(Math.abs(highX), Math.abs(highY));
      if (gap > tolerance.absolute && gap > tolerance.relative * larger) {
        const range = (low: number, high: number) => low === high ? `${low}` : `${low}–${high}`;
        out.push({
          kind: "metric",
          where,
          what: `${range(lowX, highX)} ${unit} in ${nameA}, ${
            range(lowY, highY)
          } ${unit} in ${nameB} (${Math.round((100 * gap) / larger)} % apart, over ${
            Math.round(tolerance.relative * 100)
          } %)`,
        });
      }
    }
    const passes = (runs: readonly RunRecord[]) =>
      new Set(runs.map((r) => bound(r.journal.metrics.find((m) => m.name === metric.name)?.pass)));
    const [px, py] = [passes(a), passes(b)];
    if (px.size === 1 && py.size === 1 && [...px][0] !== [...py][0]) {
      out.push({
        kind: "metric",
        where: `metric ${metric.name}`,
        what: `${[...px][0]} in ${nameA}, ${[...py][0]} in ${nameB}`,
      });
    }
  }
  return out;
}

const bound = (pass: boolean | undefined) =>
  pass === undefined ? "unmeasured" : pass ? "within its bound" : "out of its bound";

function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13
    ? "th"
    : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}
