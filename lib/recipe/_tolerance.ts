/**
 * How many failures a step tolerates (`max-failures`, per batch of a
 * serial block), and marking tolerated failures as allowed.
 *
 * @module
 */

import type { StepRecord } from "./journal.ts";
import type { Step } from "./model.ts";

/** How many of `targets` VMs may fail under the step's `max-failures` (0 without it). */
export function allowedFailures(step: Step, targets: number): number {
  const max = step.maxFailures;
  if (max === undefined) return 0;
  return "count" in max ? max.count : Math.floor((targets * max.percent) / 100);
}

/** Mark the failures of `vms` in `records` as allowed. */
export function allow(records: readonly StepRecord[], vms: ReadonlySet<string>): void {
  if (vms.size === 0) return;
  for (const record of records) {
    for (const target of record.targets) {
      if (target.status !== "ok" && target.status !== "skipped" && vms.has(target.vm)) {
        target.allowed = true;
      }
    }
  }
}
