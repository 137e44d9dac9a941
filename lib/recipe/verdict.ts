/**
 * The drill's truth: the verdict of a run, a pure function of what its
 * steps did on each VM and what its metrics measured. `pass` only when
 * something was tested and nothing broke; `unknown` when the run cannot
 * tell (a baseline that was already unhealthy, a step with no VM, a metric
 * never measured, no step run); `error` when corral or QEMU broke rather
 * than the system under test.
 *
 * @module
 */

import {
  countsAsFailed,
  type MetricRecord,
  type StepRecord,
  type Verdict,
  type Violation,
} from "./journal.ts";

/** What the verdict is judged from. */
export interface VerdictInput {
  /** Every step as it ran, with a record per target VM. */
  steps: readonly StepRecord[];
  /** Every metric's values and bound. */
  metrics: readonly MetricRecord[];
  /** A step before any fault failed: the system was unhealthy to begin with. */
  baselineFailed: boolean;
  /** The steps whose selector picked no VM. */
  untargeted: readonly string[];
  /** Whether any step ran on any VM. */
  acted: boolean;
  /** Invariants and console watches broken. */
  violations?: readonly Violation[];
}

/**
 * The verdict of a run and its reason.
 *
 * @example
 * ```ts
 * import { judge } from "./verdict.ts";
 * import assert from "node:assert/strict";
 *
 * const steps = [{
 *   name: "crash", path: "steps[0]", action: "nmi", startedAt: "", endedAt: "", startMs: 0,
 *   endMs: 1, targets: [{ vm: "db1", status: "ok" as const }],
 * }];
 * assert.deepEqual(
 *   judge({ steps, metrics: [], baselineFailed: false, untargeted: [], acted: true }),
 *   { verdict: "pass", reason: "every step passed on every VM" },
 * );
 * ```
 */
export function judge(input: VerdictInput): { verdict: Verdict; reason: string } {
  const { steps, metrics } = input;
  const failed = steps.flatMap((step) =>
    step.targets.filter(countsAsFailed).map((t) => `${step.name} on ${t.vm}`)
  );
  if (steps.some((step) => step.targets.some((t) => t.status === "error" && !t.allowed))) {
    return { verdict: "error", reason: `corral or QEMU broke: ${failed.join("; ")}` };
  }
  if (failed.length > 0 && input.baselineFailed) {
    return {
      verdict: "unknown",
      reason: `the baseline was unhealthy before any fault: ${failed.join("; ")}`,
    };
  }
  if (failed.length > 0) return { verdict: "fail", reason: `failed: ${failed.join("; ")}` };
  const broken = input.violations ?? [];
  if (broken.length > 0) {
    const first = broken[0]!;
    const when = first.ms === undefined ? "" : ` at ${(first.ms / 1000).toFixed(1)} s`;
    return {
      verdict: "fail",
      reason:
        `${broken.length} invariant violation(s): ${first.rule} on ${first.vm}${when}: ${first.what}`,
    };
  }
  const outside = (below: boolean) =>
    metrics.filter((m) => m.pass === false && (m.min !== undefined) === below).map((m) => m.name);
  const [over, under] = [outside(false), outside(true)];
  if (over.length + under.length > 0) {
    const reasons = [
      ...(over.length ? [`metric(s) over their max: ${over.join(", ")}`] : []),
      ...(under.length ? [`metric(s) below their min: ${under.join(", ")}`] : []),
    ];
    return { verdict: "fail", reason: reasons.join("; ") };
  }
  if (input.untargeted.length > 0) {
    return {
      verdict: "unknown",
      reason: `nothing was tested by step(s) with no target VM: ${input.untargeted.join(", ")}`,
    };
  }
  const unmeasured = metrics.filter((m) => Object.keys(m.values).length === 0).map((m) => m.name);
  if (unmeasured.length > 0) {
    return { verdict: "unknown", reason: `could not measure: ${unmeasured.join(", ")}` };
  }
  if (!input.acted) return { verdict: "unknown", reason: "no step ran on any VM" };
  return {
    verdict: "pass",
    reason: "every step passed on every VM" + (metrics.length ? ", metrics within bounds" : ""),
  };
}
