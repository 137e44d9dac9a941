/**
 * What a run tells as it goes: one typed stream of events, secrets masked,
 * that every output subscribes to — the terminal's lines
 * (`live/terminal.ts`), the live progress display (`live/progress.ts`),
 * the report directory, and any listener a program adds.
 *
 * @module
 */

import type { StepRecord, TargetRecord, Verdict } from "./journal.ts";

/** One event of a run. */
export type RunEvent =
  /** The run begins. */
  | {
    type: "run-start";
    recipe: string;
    seed: number;
    vms: number;
    forks: number;
    /** Secret values shorter than 3 characters: masking them masks ordinary text too. */
    shortSecrets: number;
  }
  /** A VM was launched or attached. */
  | {
    type: "vm-up";
    vm: string;
    attached: boolean;
    /** The checkpoint it was restored from, instead of booted. */
    restored?: string | undefined;
    pid?: number | undefined;
  }
  /** A VM could not be launched, attached, or brought up (its host unreachable). */
  | { type: "vm-lost"; vm: string; how: "launched" | "attached" | "brought up"; error: string }
  /** A step begins on its targets (none, and `skipped` says why, when it is skipped). */
  | {
    type: "step-start";
    step: string;
    /** The step's id, if it has one. */
    id?: string | undefined;
    /** `" (batch 2/3)"` inside a serial block's batch, else `""`. */
    batch: string;
    path: string;
    targets: string[];
    skipped?: string | undefined;
    /** A block: its children's events follow. */
    block: boolean;
    /** The step can change the VMs (a fault, a crash, maintenance). */
    mutates?: boolean | undefined;
    ms: number;
  }
  /** A serial block begins a batch. */
  | { type: "batch"; index: number; of: number; vms: string[] }
  /** A batch failed beyond max-failures: the rest are skipped. */
  | { type: "batches-stopped"; index: number; failures: number; allowed: number }
  /** A step ended on one VM. */
  | {
    type: "vm-done";
    step: string;
    batch: string;
    vm: string;
    status: TargetRecord["status"];
    ms: number;
    /** The attempt that passed, when retries were needed. */
    attempt?: number | undefined;
    /** What the action's output says worth a line (how a stop went). */
    note?: string | undefined;
    error?: string | undefined;
  }
  /** A step ended on all its targets. */
  | {
    type: "step-end";
    step: string;
    /** The step's id, if it has one. */
    id?: string | undefined;
    batch: string;
    path: string;
    targets: TargetRecord[];
    block: boolean;
    ms: number;
  }
  /** What a fault started was undone (see an action's `undo`). */
  | { type: "undone"; record: StepRecord }
  /** Something kept the run from testing (the lab, corral itself). */
  | { type: "problem"; reason: string }
  /** The run's verdict. */
  | { type: "verdict"; verdict: Verdict; reason: string };

/** Takes the run's events, in order. */
export type RunListener = (event: RunEvent) => void;
