/**
 * Who hears a run, from its options: the program's own listeners, its
 * terminal lines and live progress, and the report directory.
 *
 * @module
 */

import type { ReportDir } from "../report_dir.ts";
import type { RunEvent, RunListener } from "../run_events.ts";
import type { RunOptions } from "../run_options.ts";
import { progressEvents } from "./progress.ts";
import { terminalLines } from "./terminal.ts";

/** Who hears the run: the program's listeners, its lines and progress, the report. */
export function listenersOf(options: RunOptions, report: ReportDir | undefined): RunListener[] {
  return [
    ...(options.listeners ?? []),
    ...(options.log ? [terminalLines(options.log, options.color)] : []),
    ...(options.progress ? [progressEvents(options.progress)] : []),
    ...(report ? [(event: RunEvent) => report.listen(event)] : []),
  ];
}
