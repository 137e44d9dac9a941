/**
 * Planning around checkpoints: where `checkpoint` steps may stand (among
 * the top-level steps, each name once), and a run resumed at one (every
 * step up to it skipped).
 *
 * @module
 */

import { type Pos, showPos, type Step } from "./model.ts";
import { isCheckpoint } from "./actions/checkpoint.ts";

/** What this needs of a planned step (`plan.ts`'s `PlannedStep`, which imports this). */
interface PlannedStep {
  step: Step;
  skip?: string;
  block?: { steps: PlannedStep[]; rescue: PlannedStep[]; always: PlannedStep[] };
}
import { didYouMean } from "../_suggest.ts";

/** A problem with a checkpoint step, at its line. */
export interface CheckpointIssue {
  pos: Pos;
  message: string;
}

/**
 * The problems with a recipe's checkpoint steps and with `--resume-from`
 * (no such checkpoint); with it, every step up to that checkpoint is
 * marked skipped.
 */
export function planCheckpoints(
  steps: readonly PlannedStep[],
  cleanup: readonly PlannedStep[],
  resumeFrom: string | undefined,
  where: Pos,
): CheckpointIssue[] {
  const issues = checkpointIssues(steps, cleanup);
  if (resumeFrom !== undefined && !resumeAfter(steps, resumeFrom)) {
    issues.push({
      pos: where,
      message: `--resume-from ${JSON.stringify(resumeFrom)}: no step 'checkpoint: ${resumeFrom}'` +
        didYouMean(resumeFrom, checkpointNames(steps)),
    });
  }
  return issues;
}

/**
 * The checkpoint steps that cannot be resumed from: inside a block (a run
 * resumed there would lose the block's rescue and always), in `finally`,
 * or with a name another checkpoint has.
 */
function checkpointIssues(
  steps: readonly PlannedStep[],
  cleanup: readonly PlannedStep[],
): CheckpointIssue[] {
  const issues: CheckpointIssue[] = [];
  const seen = new Map<string, Pos>();
  for (const planned of steps) {
    const { action, pos } = planned.step;
    if (isCheckpoint(action)) {
      const first = seen.get(action.name);
      if (first) {
        issues.push({
          pos,
          message: `checkpoint '${action.name}' is saved at ${showPos(first)} too`,
        });
      }
      seen.set(action.name, pos);
    }
    for (const inner of nested(planned)) {
      if (!isCheckpoint(inner.step.action)) continue;
      issues.push({
        pos: inner.step.pos,
        message: "a checkpoint is a top-level step, not inside a block: a run resumed there " +
          "would skip the block's rescue and always",
      });
    }
  }
  for (const planned of cleanup.flatMap((p) => [p, ...nested(p)])) {
    if (isCheckpoint(planned.step.action)) {
      issues.push({ pos: planned.step.pos, message: "a checkpoint cannot be in finally" });
    }
  }
  return issues;
}

/**
 * Mark every step up to the `checkpoint: NAME` step as skipped (the run
 * resumes after it); false when the recipe has no such step.
 */
function resumeAfter(steps: readonly PlannedStep[], name: string): boolean {
  const at = steps.findIndex((p) => isCheckpoint(p.step.action) && p.step.action.name === name);
  if (at < 0) return false;
  for (const planned of steps.slice(0, at + 1)) planned.skip = `before checkpoint '${name}'`;
  return true;
}

/** The checkpoint names a recipe's top-level steps save. */
export function checkpointNames(steps: readonly PlannedStep[]): string[] {
  return steps.flatMap((p) => isCheckpoint(p.step.action) ? [p.step.action.name] : []);
}

/** The steps a block holds, at any depth. */
function nested(planned: PlannedStep): PlannedStep[] {
  const block = planned.block;
  if (!block) return [];
  return [...block.steps, ...block.rescue, ...block.always].flatMap((p) => [p, ...nested(p)]);
}
