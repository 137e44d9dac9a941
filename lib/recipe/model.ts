/**
 * The recipe model: what a parsed, validated recipe is. Every part keeps
 * where it was written (`file:line:col`) for messages.
 *
 * @module
 */

import type { LaunchSpec } from "../vm/launch.ts";
import type { NetworkSpec } from "../vm/network.ts";
import type { HostSpec } from "../host/ssh.ts";

/** Where something was written. */
export interface Pos {
  /** The recipe file. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
}

/** `file:line:col`. */
export function showPos(pos: Pos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** A text that may hold run-time references (`${{ vm.name }}`, `${{ seed }}`). */
export type Template = readonly (
  | string
  | { ref: "vm.name" | "seed" }
  | { ref: "forward"; vm: string; port: number }
)[];

/** One VM of the inventory. */
export interface InventoryVm {
  /** The VM's name. */
  name: string;
  /** The groups it belongs to. */
  groups: readonly string[];
  /** Launch spec, for VMs corral starts; absent for attached ones. */
  spec?: LaunchSpec;
  /** `unix:/path` or `tcp:host:port`, for a QEMU corral did not start. */
  attach?: string;
  /** An attached VM's guest agent socket (`unix:/path`). */
  agent?: string;
  /** Its NICs: the lab networks it is on, with its address on each (`10.44.0.2/24`). */
  networks: readonly { name: string; address: string }[];
  /** Where it is declared. */
  pos: Pos;
}

/** How many of a group a pick takes. */
export type PickCount = "one" | "minority" | "majority" | number;

/** One term of a selector. */
export type SelectorTerm =
  | { kind: "pattern"; text: string; pos: Pos }
  | { kind: "targets"; step: string; pos: Pos }
  | { kind: "pick"; group: string; count: PickCount; pos: Pos };

/** Which VMs a step acts on: the union of its terms. */
export interface StepSelector {
  /** The names, groups, globs, references and picks, united. */
  terms: readonly SelectorTerm[];
  /** Where `on` is written. */
  pos: Pos;
}

/** A structured condition (never code). */
export type Condition =
  | { var: string; equals?: unknown; notEquals?: unknown }
  | { step: string; outcome: "ok" | "failed" | "skipped" }
  | { failed: boolean }
  | { all: readonly Condition[] }
  | { any: readonly Condition[] }
  | { not: Condition };

/** A console pattern: substring, or `/regex/flags`. */
export type Pattern = string | RegExp;

/**
 * Whether `text` matches `pattern` (a substring, or a regular expression);
 * no pattern matches everything.
 *
 * @example
 * ```ts
 * import { matchesPattern } from "./model.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(matchesPattern(/^ok$/m, "ready\nok"));
 * assert.ok(!matchesPattern("panic", "all well"));
 * ```
 */
export function matchesPattern(pattern: Pattern | undefined, text: string): boolean {
  return pattern === undefined ||
    (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text));
}

/**
 * What a step does: `kind` is the action's step key (`pause`, `qmp`, …);
 * the rest is the action's own data (see `lib/recipe/actions/`).
 */
export interface ActionData {
  /** The action's step key. */
  readonly kind: string;
}

/** Batch sizes of `serial`: counts or percentages; the last repeats. */
export type BatchSize = { count: number } | { percent: number };

/** One step. */
export interface Step {
  /** Unique in the recipe. */
  name: string;
  /** A name for references (`steps.ID.targets`, metrics, conditions). */
  id?: string;
  /** The targets. */
  on: StepSelector;
  /** The deadline on each VM, in ms; the recipe default when absent. */
  timeout?: number;
  /** On a fault: heal it this long after it was applied (while later steps run), in ms. */
  duration?: number;
  /** Tries in all, ms between them, and what the output must contain. */
  retry?: { attempts: number; interval: number; until?: unknown };
  /** A failure neither fails the recipe nor removes the VM from later steps. */
  continueOnError: boolean;
  /** Targets for which it is false are skipped. */
  if?: Condition;
  /** On a block: the batch sizes. */
  serial?: readonly BatchSize[];
  /** Failures tolerated (per batch for a serial block). */
  maxFailures?: { count: number } | { percent: number };
  /** What the step does. */
  action: ActionData;
  /** Whether the action can change a VM (for `plan` and verdicts). */
  mutates: boolean;
  /** Where the step is written. */
  pos: Pos;
}

/** A step boundary: `STEP_ID.start` or `STEP_ID.end`. */
export interface Edge {
  /** The step's id. */
  step: string;
  /** Which end. */
  edge: "start" | "end";
}

/**
 * A value measured per VM: the duration between two step boundaries
 * (`from`, `to`), or a number of ms a step put in its output (`value`:
 * `STEP_ID.FIELD`, e.g. a migration's `downtimeMs`).
 */
export type Metric =
  & {
    /** The metric's name. */
    name: string;
    /** A bound in ms that makes the metric a pass condition. */
    max?: number;
    /** For a probe's availability: the least share, in %, that passes. */
    min?: number;
    /** Where it is written. */
    pos: Pos;
  }
  & (
    | { from: Edge; to: Edge; value?: undefined; probe?: undefined }
    | {
      value: { step: string; field: string };
      from?: undefined;
      to?: undefined;
      probe?: undefined;
    }
    | {
      /** A probe's attempts: the share that passed (`availability`, in %, with `min`) or the longest run that failed (`outage`, in ms, with `max`). */
      probe: { name: string; measure: "availability" | "outage" };
      from?: undefined;
      to?: undefined;
      value?: undefined;
    }
  );

/** A rule checked against every event a VM's QEMU sends (`invariants:`). */
export interface Invariant {
  /** Events that must never come. */
  never: readonly string[];
  /** `status: running`: the rule's name, its events those that leave the running state. */
  status?: "running";
  /** The VMs it holds on. */
  on: StepSelector;
  /** `outside: faults`: not on a VM once a mutating step (a fault, a crash) targeted it. */
  outsideFaults: boolean;
  /** Where it is written. */
  pos: Pos;
}

/** Console lines no VM may print (`watch: { console: { fail } }`). */
export interface ConsoleWatch {
  /** What fails the run when a VM prints it. */
  fail: readonly Pattern[];
  /** `outside: faults`: not on a VM once a mutating step targeted it. */
  outsideFaults: boolean;
  /** Where it is written. */
  pos: Pos;
}

/** A check run again and again while the steps run (`probes:`), every attempt recorded. */
export interface Probe {
  /** Its name. */
  name: string;
  /** The VMs it runs on. */
  on: StepSelector;
  /** ms from one attempt's start to the next. */
  every: number;
  /** ms one attempt may take (default: every). */
  timeout: number;
  /** What each attempt does (an agent, console or qmp action). */
  action: ActionData;
  /** Start when the step with this id starts (default: when the steps start). */
  start?: string;
  /** End when the step with this id ends (default: when the steps end, before finally). */
  end?: string;
  /**
   * Judge its VMs as one service: an attempt asks every VM at once and
   * passes when `any`, a `majority` or `all` of them answer (default: each
   * VM is probed on its own).
   */
  quorum?: Quorum;
  /** Where it is written. */
  pos: Pos;
}

/** How many of a probe's VMs must answer for one of its attempts to pass. */
export type Quorum = "any" | "majority" | "all";

/** A whole, validated recipe. */
export interface Recipe {
  /** The file it was read from. */
  file: string;
  /** Its name. */
  name: string;
  /** What it is for. */
  description?: string;
  /** Labels `corral test --tags` selects by. */
  tags?: readonly string[];
  /** Variables, with `--var` overrides applied. */
  vars: Record<string, unknown>;
  /** The names of the variables whose values are secret (masked everywhere). */
  secrets: readonly string[];
  /** Every VM, ranges expanded, defaults applied. */
  inventory: readonly InventoryVm[];
  /** The lab networks, each with its VMs and their addresses. */
  networks: readonly NetworkSpec[];
  /** The SSH hosts VMs may run on (`host:`). */
  hosts: readonly HostSpec[];
  /** The default step deadline, in ms. */
  timeout: number;
  /** At most this many VMs acted on at once. */
  forks: number;
  /** The steps, in order. */
  steps: readonly Step[];
  /** Checks run again and again while the steps run. */
  probes: readonly Probe[];
  /** Rules every event must keep. */
  invariants?: readonly Invariant[];
  /** Console lines that fail the run. */
  watch?: ConsoleWatch;
  /** Steps that always run at the end. */
  finally: readonly Step[];
  /** Durations measured per VM. */
  metrics: readonly Metric[];
}
