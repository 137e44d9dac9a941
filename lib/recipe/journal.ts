/**
 * What a run leaves: its journal (steps, targets, metrics, verdict), as
 * `journal.json` holds it and every report reads it.
 *
 * @module
 */

/** The verdict of a run. */
export type Verdict = "pass" | "fail" | "unknown" | "error";

/** Exit codes by verdict; 2 is for invalid input. */
export const EXIT_CODES: Record<Verdict, number> = { pass: 0, fail: 1, unknown: 3, error: 4 };

/** The outcome of one step on one VM. */
export interface TargetRecord {
  /** The VM. */
  vm: string;
  /** How the step ended on it. */
  status: "ok" | "failed" | "timeout" | "skipped" | "error";
  /** When the step started on the VM (ISO 8601). */
  startedAt?: string;
  /** When it ended on the VM (ISO 8601). */
  endedAt?: string;
  /** When the step started on the VM, in ms since the run started. */
  startMs?: number;
  /** When it ended, in ms since the run started. */
  endMs?: number;
  /** Tries made (retry). */
  attempts?: number;
  /** What the action produced: a QMP return, an event, a console line. */
  output?: unknown;
  /** Why it failed. */
  error?: string;
  /** The failure was allowed (continue-on-error, max-failures, or rescued). */
  allowed?: boolean;
  /** The VM's screen when the step failed on it (VMs with `display: true`), in the report. */
  screenshot?: string;
}

/**
 * Whether a step failed on this VM and that counts: failed, timed out or
 * errored, and not allowed (continue-on-error, max-failures, rescued).
 *
 * @example
 * ```ts
 * import { countsAsFailed } from "./journal.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(countsAsFailed({ status: "timeout" }), true);
 * assert.equal(countsAsFailed({ status: "failed", allowed: true }), false);
 * ```
 */
export function countsAsFailed(target: Pick<TargetRecord, "status" | "allowed">): boolean {
  return ["failed", "timeout", "error"].includes(target.status) && !target.allowed;
}

/** One step as it ran. */
export interface StepRecord {
  /** The step's name (with the batch, in a serial block). */
  name: string;
  /** The step's id, if it has one. */
  id?: string;
  /** Where it sits in the recipe, e.g. `steps[1].block[0]`. */
  path: string;
  /** The action's kind. */
  action: string;
  /** One record per VM. */
  targets: TargetRecord[];
  /** When the step started (ISO 8601). */
  startedAt: string;
  /** When it ended (ISO 8601). */
  endedAt: string;
  /** When the step started, in ms since the run started. */
  startMs: number;
  /** When it ended, in ms since the run started. */
  endMs: number;
}

/** A metric's values per VM. */
export interface MetricRecord {
  /** The metric's name. */
  name: string;
  /** Milliseconds (or, with `unit: "%"`, percent), by VM. */
  values: Record<string, number>;
  /** `%` for a probe's availability; milliseconds otherwise. */
  unit?: "%";
  /** The bound, if any, in ms. */
  max?: number;
  /** The least value that passes (availability, in %). */
  min?: number;
  /** For a duration metric: the window it measured on each VM, `[fromMs, toMs]`. */
  spans?: Record<string, [number, number]>;
  /** `true` when every value is within `max`; `undefined` when nothing was measured. */
  pass?: boolean;
}

/** The whole run. */
export interface RunJournal {
  /** The recipe's name. */
  recipe: string;
  /** The recipe file. */
  file: string;
  /** The seed the picks were drawn from. */
  seed: number;
  /** When the run started (ISO 8601). */
  startedAt: string;
  /** How long the run took. */
  durationMs: number;
  /** pass, fail, unknown or error. */
  verdict: Verdict;
  /** Why that verdict. */
  reason: string;
  /** Every step as it ran. */
  steps: StepRecord[];
  /** Every metric's values. */
  metrics: MetricRecord[];
  /** The VMs of the run with their groups (for reports that fold by group). */
  vms?: { name: string; groups: string[] }[];
  /** Every probe's attempts on each VM. */
  probes?: ProbeRecord[];
  /** What broke an invariant or the console watch. */
  violations?: Violation[];
  /** The lab networks' captures written into the report directory (`lan.pcap`). */
  captures?: string[];
}

/** An invariant or the console watch broken. */
export interface Violation {
  /** The rule: `never EVENT`, or `console`. */
  rule: string;
  /** The VM. */
  vm: string;
  /** When, in ms since the run started (events). */
  ms?: number;
  /** What happened: the event and its data, or the console line. */
  what: string;
}

/** One attempt of a probe. */
export interface ProbeAttempt {
  /** When it started, in ms since the run started. */
  startMs: number;
  /** When it ended. */
  endMs: number;
  /** Whether it passed. */
  ok: boolean;
  /** Why it did not. */
  error?: string;
}

/** A probe's attempts on one VM. */
export interface ProbeRecord {
  /** The probe's name. */
  name: string;
  /** The VM it ran on. */
  vm: string;
  /** Every attempt, in order. */
  attempts: ProbeAttempt[];
}

/** A QMP event as `events.jsonl` records it. */
export interface ReportEvent {
  /** ms since the run started. */
  ms: number;
  /** The VM. */
  vm: string;
  /** The event's name. */
  event: string;
  /** Its data. */
  data?: unknown;
}
