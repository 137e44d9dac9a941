/**
 * The shape of a report output: one file per output under
 * `lib/recipe/reporters/`, registered in `registry.ts`. The run sends every
 * reporter the same stream — records for `events.jsonl`, QMP log lines,
 * console logs — already stamped and with secrets masked, and the finished
 * journal at the end; each writes its own files into the report directory.
 *
 * @module
 */

import type { RunJournal } from "../journal.ts";

/** What a run reports as it goes, masked and stamped. */
export type ReporterEvent =
  /** A record of `events.jsonl`: a step began or ended, a QMP event, a metric. */
  | { type: "record"; record: Record<string, unknown> & { time: string; ms: number } }
  /** A line of the VM's QMP log: `TIME +MSms -> {…}`. */
  | { type: "qmp"; vm: string; line: string }
  /** What the VM's serial console printed in the whole run (its earlier QEMUs' too). */
  | { type: "console"; vm: string; text: string };

/** One output's writer for one run. */
export interface Reporter {
  /** Take one event (a write may finish later; `finish` waits for it). */
  on(event: ReporterEvent): void;
  /** The run ended: write what needs the whole journal, and close every file. */
  finish(journal: RunJournal): Promise<void>;
}

/** A report output: its name and how to start it in a report directory. */
export interface ReporterKind {
  /** What it writes, e.g. `events.jsonl`. */
  name: string;
  /** Start writing into `dir` (empty but for `vms/`, which exists). */
  open(dir: string): Promise<Reporter>;
}

/**
 * Define a report output (the identity: it types the definition).
 *
 * @example
 * ```ts
 * import { defineReporter } from "./reporter.ts";
 * import assert from "node:assert/strict";
 *
 * const count = defineReporter({
 *   name: "count.txt",
 *   open: (dir) => {
 *     let n = 0;
 *     return Promise.resolve({
 *       on: () => void n++,
 *       finish: () => Deno.writeTextFile(`${dir}/count.txt`, String(n)),
 *     });
 *   },
 * });
 * assert.equal(count.name, "count.txt");
 * ```
 */
export function defineReporter(kind: ReporterKind): ReporterKind {
  return kind;
}
