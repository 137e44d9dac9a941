/**
 * What every part of `report.html`'s script shares: the page's types, the
 * few DOM members it uses, its sizes, and small helpers. Like the rest of
 * the script, these functions are embedded as JavaScript (see
 * `_report_page.ts`), so they use nothing from module scope but each other.
 *
 * @module
 */

import type { ReportEvent, RunJournal, TargetRecord } from "./journal.ts";

export type Status = TargetRecord["status"];

// The DOM as the page uses it. Declared here, not with the DOM library, whose globals clash with
// Deno's; these names exist only in this module's types.
export interface El {
  textContent: string | null;
  innerHTML: string;
  hidden: boolean;
  checked: boolean;
  value: string;
  clientWidth: number;
  dataset: Record<string, string | undefined>;
  append(child: El): void;
  closest(selector: string): El | null;
  querySelector(selector: string): El | null;
  addEventListener(
    type: string,
    listener: (event: DomEvent) => void,
    options?: { passive: boolean },
  ): void;
}
export interface DomEvent {
  target: El;
  ctrlKey: boolean;
  deltaY: number;
  preventDefault(): void;
}
/** The page's `document`, as far as it is used (each file declares `document` of this type). */
export type Doc = {
  body: El;
  getElementById(id: string): El | null;
  createElement(tag: string): El;
};

/** What the page draws from, as the JSON in its `#data` element. */
export interface PageData {
  journal: RunJournal;
  events: ReportEvent[];
  foldAbove: number;
}

/** What the reader chose. */
export interface ViewState {
  filter: string;
  group: string;
  fold: boolean;
  zoom: number;
  hidden: Set<string>;
  open: Set<string>;
}

/** The run and the reader's view of it. */
export interface Page extends PageData {
  vmOrder: string[];
  groupsOf: Map<string, string[]>;
  duration: number;
  state: ViewState;
}

/** A lane: one VM, or a group of them folded into one. */
export interface Row {
  label: string;
  vms: string[];
  kind: "vm" | "group";
  group?: string;
}

/** How a lane is drawn: its row, where it sits, and the time axis. */
export interface Lane {
  row: Row;
  y: number;
  x: (ms: number) => number;
}

export function fmt(ms: number): string {
  return ms < 1000
    ? ms.toFixed(ms < 10 ? 1 : 0) + " ms"
    : ms < 60000
    ? (ms / 1000).toFixed(2) + " s"
    : (ms / 60000).toFixed(1) + " min";
}

export function esc(text: unknown): string {
  return String(text).replace(/[<>&"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
}

export function statusColor(status: Status): string {
  return `var(--${status})`;
}

export function rank(status: Status): number {
  return { skipped: 0, ok: 1, timeout: 2, failed: 3, error: 4 }[status];
}

export function eventColor(name: string): string {
  const colors: Record<string, string> = {
    GUEST_PANICKED: "#d64541",
    GUEST_CRASHLOADED: "#d64541",
    SHUTDOWN: "#1d2329",
    STOP: "#e67e22",
    RESUME: "#2f9e57",
    RESET: "#2457a6",
    POWERDOWN: "#6c3fb5",
    MIGRATION: "#8e44ad",
    MIGRATION_PASS: "#b07cc6",
    JOB_STATUS_CHANGE: "#148f8f",
    DEVICE_DELETED: "#7f8c8d",
    BLOCK_JOB_COMPLETED: "#148f8f",
  };
  return colors[name] ?? "#7f8c8d";
}

/** The largest `pick` of `values`: no spread, a run's events are unbounded, a call's arguments are not. */
export function most<T>(values: readonly T[], pick: (value: T) => number, start: number): number {
  let m = start;
  for (const v of values) m = Math.max(m, Number(pick(v)));
  return m;
}

export function least<T>(values: readonly T[], pick: (value: T) => number, start: number): number {
  let m = start;
  for (const v of values) m = Math.min(m, Number(pick(v)));
  return m;
}

export function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^$()|[\]{}\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp("^" + body + "$");
}

declare const document: Doc;

export function byId(id: string): El {
  return document.getElementById(id)!;
}

/** Sizes: the label column, a lane, the axis, the steps lane. */
export const LABEL = 170, LANE = 22, TOP = 28, STEPS = 26;

/** These helpers, for the page's script. */
export const BASE_FUNCTIONS = [
  fmt,
  esc,
  statusColor,
  rank,
  eventColor,
  most,
  least,
  niceStep,
  globToRegExp,
  byId,
];
