/**
 * What a run takes and gives: its options (report, deadline, Ctrl-C,
 * progress, limits) and its result.
 *
 * @module
 */

import type { DetachedVm } from "../vm/vm.ts";
import type { RunJournal, StepRecord, TargetRecord } from "./journal.ts";
import type { Lab } from "../vm/lab.ts";
import type { Plan, PlannedStep } from "./plan.ts";
import type { ReporterKind } from "./reporters/reporter.ts";
import type { RunListener } from "./run_events.ts";

/** Options of {@linkcode runRecipe}. */
export interface RunOptions {
  /**
   * The recipe's plan, made already (`planRecipe`, as `corral run` does to
   * check it): run as it is, so the run is what was planned. Then `seed`,
   * `limit` and `startAt` are the plan's own.
   */
  plan?: Plan | undefined;
  /** The seed for picks. Default: a random one (printed, and kept in the journal). */
  seed?: number | undefined;
  /** Override the recipe's `defaults.forks`. */
  forks?: number | undefined;
  /**
   * Leave the VMs corral launched running at the end (they outlive this
   * program): `true`, or `"on-failure"` — only when the verdict is not
   * pass, to look inside. Default `false`.
   */
  keep?: boolean | "on-failure" | undefined;
  /** Write the report (events.jsonl, journal.json, junit.xml, per-VM logs) here. */
  reportDir?: string | undefined;
  /** The report's outputs (see `reporters/registry.ts`). Default: every registered one. */
  reporters?: readonly ReporterKind[] | undefined;
  /** Empty `reportDir` first when it is not empty (else the run is refused). */
  force?: boolean | undefined;
  /** A deadline for the whole run (not `finally`), in ms. */
  deadline?: number | undefined;
  /** Aborting it (Ctrl-C) stops the steps; `finally` still runs. */
  signal?: AbortSignal | undefined;
  /** Every event of the run as it happens, secrets masked (see `run_events.ts`). */
  listeners?: readonly RunListener[] | undefined;
  /** Progress, line by line, for a terminal or a log (secrets masked). */
  log?: ((line: string) => void) | undefined;
  /**
   * Progress as it happens, for a live display: a step starts on its
   * targets, a VM finishes it, the step ends (secrets masked in errors).
   */
  progress?: ((event: ProgressEvent) => void) | undefined;
  /** Color the progress lines. Default `false`. */
  color?: boolean | undefined;
  /** Only these VMs (a selector): the others are not brought up (`--limit`). */
  limit?: string | undefined;
  /** Skip the steps before this one (`--start-at`); finally still runs. */
  startAt?: string | undefined;
  /**
   * Where `checkpoint: NAME` steps save the lab (`--checkpoints DIR`, a
   * folder per checkpoint), and where `resumeFrom` finds it. Default: the
   * steps save nothing.
   */
  checkpoints?: string | undefined;
  /**
   * Start the lab from checkpoint NAME in `checkpoints` — no boot — and run
   * the steps after its `checkpoint: NAME` step (`--resume-from`); its seed
   * unless `seed` is given. Refused (`CheckpointError`, nothing started)
   * when the recipe, a VM's spec, the QEMU build or a disk's base changed.
   */
  resumeFrom?: string | undefined;
  /** Every QMP message of the run as it goes, secrets masked (`-v`). */
  trace?: ((line: string) => void) | undefined;
  /**
   * Asked before each step (`--step`): run it, skip it, or run it and all
   * the rest without asking.
   */
  confirm?: ((step: PlannedStep) => Promise<"run" | "skip" | "all">) | undefined;
  /**
   * Called once, at the first step that fails (`--pause-on-failure`), with
   * the lab left as it is — faults still active — and awaited: `continue`
   * goes on (rescue, finally), `abort` stops the steps as Ctrl-C does.
   */
  onFailure?: ((pause: FailurePause) => Promise<"continue" | "abort">) | undefined;
}

/** The lab at the first failure, for {@linkcode RunOptions.onFailure}. */
export interface FailurePause {
  /** The step that failed, as recorded. */
  record: StepRecord;
  /** The VMs it failed on. */
  failed: string[];
  /** The lab, running as it was when the step failed. */
  lab: Lab;
}

/** What {@linkcode RunOptions.progress} is told. */
export type ProgressEvent =
  | { type: "step-start"; step: string; targets: string[] }
  | {
    type: "vm-done";
    step: string;
    vm: string;
    status: TargetRecord["status"];
    ms: number;
    error?: string;
  }
  | { type: "step-end"; step: string };

/** What a run produced. */
export interface RunResult {
  /** Everything that happened, the verdict included (secrets masked). */
  journal: RunJournal;
  /** The command line's exit code for the verdict. */
  exitCode: number;
  /** With `keep`: the launched VMs still running at the end, with their sockets. */
  kept: DetachedVm[];
}
