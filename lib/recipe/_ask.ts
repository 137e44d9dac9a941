/**
 * What a run asks of its user: before each step (`--step`), and once at
 * the first failure (`--pause-on-failure`), with the lab as it is.
 *
 * @module
 */

import type { StepRecord } from "./journal.ts";
import type { PlannedStep } from "./plan.ts";
import type { FailurePause, RunOptions } from "./run_options.ts";
import type { Lab } from "../vm/lab.ts";

const FAILED = ["failed", "timeout", "error"];

/** The run's questions, each asked as its option says. */
export class Asker {
  #all = false;
  #paused = false;

  constructor(
    private readonly options: Pick<RunOptions, "confirm" | "onFailure">,
    private readonly lab: () => Lab | undefined,
  ) {}

  /** `--step`: why the step is skipped, or undefined to run it. */
  async skip(planned: PlannedStep): Promise<string | undefined> {
    if (!this.options.confirm || this.#all) return undefined;
    const answer = await this.options.confirm(planned);
    if (answer === "all") this.#all = true;
    return answer === "skip" ? "by --step" : undefined;
  }

  /**
   * After a step: at its first failure that is not allowed, hand the lab
   * (faults still active, VMs as they are) to `onFailure` and wait for it;
   * `abort` when it says so.
   */
  async afterStep(record: StepRecord, abort: () => void): Promise<void> {
    const failed = record.targets.filter((t) => FAILED.includes(t.status) && !t.allowed);
    const lab = this.lab();
    if (!this.options.onFailure || this.#paused || failed.length === 0 || !lab) return;
    this.#paused = true;
    const pause: FailurePause = { record, failed: failed.map((t) => t.vm), lab };
    if (await this.options.onFailure(pause) === "abort") abort();
  }
}
