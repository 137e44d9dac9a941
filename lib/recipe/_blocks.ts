/**
 * A block's control flow: its steps batch by batch (`serial`), `rescue` on
 * the VMs where they failed, the block's faults healed, `always` on all;
 * failures tolerated by `max-failures`, `continue-on-error` or a rescue
 * are allowed, and a batch past `max-failures` skips the rest.
 *
 * @module
 */

import type { StepRecord } from "./journal.ts";
import type { RunEvent } from "./run_events.ts";
import type { PlannedStep } from "./plan.ts";
import { allow, allowedFailures } from "./_tolerance.ts";

/** What a block needs of the runner. */
export interface BlockRunner {
  /** The VMs that failed (kept out of later steps). */
  failed: Set<string>;
  /** Every step record so far. */
  records: StepRecord[];
  /** Whether the run was interrupted. */
  aborted(): boolean;
  /** Run a child step on `only` (cleanup: also on failed VMs, with a fresh signal). */
  runStep(child: PlannedStep, only: string[], cleanup: boolean): Promise<string[]>;
  /** Set the batch label (`undefined`: keep it); returns the one before. */
  label(label: string | undefined): string;
  /** Run `run` in a scope of its own for undos, healed when it ends. */
  withUndo(run: () => Promise<void>): Promise<void>;
  /** Tell the run's listeners. */
  emit(event: RunEvent): void;
}

/** Run a block on `targets`; resolves to the VMs where it failed. */
export async function runBlock(
  planned: PlannedStep,
  targets: string[],
  record: StepRecord,
  cleanup: boolean,
  runner: BlockRunner,
): Promise<string[]> {
  const { step } = planned;
  const block = planned.block!;
  const batches = planned.batches
    ? planned.batches.map((batch) => batch.filter((name) => targets.includes(name)))
    : [targets];
  const failures: string[] = [];
  for (const [index, batch] of batches.entries()) {
    if (batch.length === 0) continue;
    const label = batches.length > 1 ? ` (batch ${index + 1}/${batches.length})` : undefined;
    if (label) runner.emit({ type: "batch", index: index + 1, of: batches.length, vms: batch });
    const outerLabel = runner.label(label);
    const before = new Set(runner.failed);
    const firstChild = runner.records.length;
    let failedHere: string[] = [];
    await runner.withUndo(async () => {
      for (const child of block.steps) {
        if (runner.aborted() && !cleanup) break;
        await runner.runStep(child, batch, cleanup);
      }
      failedHere = batch.filter((name) => runner.failed.has(name) && !before.has(name));
      if (failedHere.length > 0 && block.rescue.length > 0) {
        for (const name of failedHere) runner.failed.delete(name);
        for (const child of block.rescue) await runner.runStep(child, failedHere, cleanup);
      }
    });
    const rescued = failedHere.filter((name) => !runner.failed.has(name));
    for (const child of block.always) await runner.runStep(child, batch, true);
    runner.label(outerLabel);
    const stillFailed = batch.filter((name) => runner.failed.has(name) && !before.has(name));
    for (const name of batch) {
      record.targets.push(
        stillFailed.includes(name)
          ? { vm: name, status: "failed", error: "a step of the block failed" }
          : { vm: name, status: "ok" },
      );
    }
    failures.push(...stillFailed);
    const allowed = allowedFailures(step, batch.length);
    const tolerated = step.continueOnError || stillFailed.length <= allowed;
    // What the block tolerates (rescued VMs, failures within max-failures or continue-on-error)
    // does not fail the run: its children's failures on those VMs are allowed too.
    const forgiven = new Set([...rescued, ...(tolerated ? stillFailed : [])]);
    allow(runner.records.slice(firstChild), forgiven);
    allow([record], new Set(tolerated ? stillFailed : []));
    if (!tolerated) {
      const rest = batches.slice(index + 1).flat();
      if (rest.length > 0) {
        runner.emit({
          type: "batches-stopped",
          index: index + 1,
          failures: stillFailed.length,
          allowed,
        });
      }
      for (const name of rest) record.targets.push({ vm: name, status: "skipped" });
      break;
    }
  }
  return failures;
}
