/**
 * Every report output, one line each, in the order they finish (the page
 * is drawn from `events.jsonl`, so it comes after it). A new output is a
 * file in this folder and a line here (a test fails when a file is not
 * registered).
 *
 * @module
 */

import consoleLog from "./console_log.ts";
import eventsJsonl from "./events_jsonl.ts";
import journalJson from "./journal_json.ts";
import junitXml from "./junit_xml.ts";
import qmpLog from "./qmp_log.ts";
import type { ReporterKind } from "./reporter.ts";
import reportHtml from "./report_html.ts";

/** The outputs of every `--report DIR`. */
export const REPORTERS: readonly ReporterKind[] = [
  eventsJsonl,
  qmpLog,
  consoleLog,
  journalJson,
  junitXml,
  reportHtml,
];
