/**
 * The recipe model: what a parsed, validated recipe is. Every part keeps
 * where it was written (`file:line:col`) for messages.
 *
 * @module
 */

import type { LaunchSpec } from "../vm/launch.ts";

/** Where something was written. */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

/** `file:line:col`. */
export function showPos(pos: Pos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** A text that may hold run-time references (`${{ vm.name }}`, `${{ seed }}`). */
export type Template = readonly (string | { ref: "vm.name" | "seed" })[];

/** One VM of the inventory. */
export interface InventoryVm {
  name: string;
  groups: readonly string[];
  /** Launch spec, for VMs corral starts; absent for attached ones. */
  spec?: LaunchSpec;
  /** `unix:/path` or `tcp:host:port`, for a QEMU corral did not start. */
  attach?: string;
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
  terms: readonly SelectorTerm[];
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

/** What a step does. */
export type Action =
  | { kind: "qmp"; execute: string; arguments?: unknown; expect?: unknown }
  | { kind: "pause" | "resume" | "reset" | "powerdown" | "nmi" | "start" | "kill" }
  | { kind: "stop"; grace: number }
  | { kind: "wait-event"; event: string; match?: Record<string, unknown>; timeout?: number }
  | { kind: "wait-status"; status: readonly string[] }
  | { kind: "console-wait"; wait: Pattern; failOn: readonly Pattern[]; prompt: boolean }
  | { kind: "console-send"; send: Template }
  | {
    kind: "console-exec";
    exec: Template;
    expect?: Pattern;
    failOn: readonly Pattern[];
    prompt: boolean;
  }
  | { kind: "panic-action"; policy: string }
  | { kind: "sleep"; ms: number }
  | { kind: "block"; steps: readonly Step[]; rescue: readonly Step[]; always: readonly Step[] }
  | { kind: "fail"; message: Template };

/** Batch sizes of `serial`: counts or percentages; the last repeats. */
export type BatchSize = { count: number } | { percent: number };

/** One step. */
export interface Step {
  name: string;
  id?: string;
  on: StepSelector;
  timeout?: number;
  retry?: { attempts: number; interval: number; until?: unknown };
  continueOnError: boolean;
  if?: Condition;
  serial?: readonly BatchSize[];
  maxFailures?: { count: number } | { percent: number };
  action: Action;
  pos: Pos;
}

/** A measured duration between two step boundaries, per VM. */
export interface Metric {
  name: string;
  from: { step: string; edge: "start" | "end" };
  to: { step: string; edge: "start" | "end" };
  max?: number;
  pos: Pos;
}

/** A whole, validated recipe. */
export interface Recipe {
  file: string;
  name: string;
  description?: string;
  vars: Record<string, unknown>;
  inventory: readonly InventoryVm[];
  timeout: number;
  forks: number;
  steps: readonly Step[];
  finally: readonly Step[];
  metrics: readonly Metric[];
}

/** Whether an action changes the VM (for `plan`). */
export function mutates(action: Action): boolean {
  switch (action.kind) {
    case "wait-event":
    case "wait-status":
    case "console-wait":
    case "sleep":
    case "fail":
      return false;
    case "qmp":
      return !action.execute.startsWith("query-");
    case "block":
      return [...action.steps, ...action.rescue, ...action.always].some((s) => mutates(s.action));
    default:
      return true;
  }
}
