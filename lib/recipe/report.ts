/**
 * What a run leaves behind: a journal of every step on every VM, metrics,
 * the verdict; written as `journal.json`, `junit.xml`, a streamed
 * `events.jsonl`, and per VM `console.log` and `qmp.log`. Secrets are
 * masked everywhere (see `secrets.ts`).
 *
 * Times, the same in every file: `…At` fields are ISO-8601 wall-clock
 * timestamps (UTC); `…Ms` fields are milliseconds since the run started.
 *
 * @module
 */

import { printable } from "../_text.ts";
import { CorralError } from "../errors.ts";
import { showDuration } from "./duration.ts";
import { type ReportEvent, reportHtml } from "./html.ts";

import {
  countsAsFailed,
  type MetricRecord,
  type RunJournal,
  type TargetRecord,
} from "./journal.ts";

/** The run's clock: ms since the run started, and the wall-clock time of such an offset. */
export class RunClock {
  #t0 = performance.now();
  #epoch = Date.now();

  /** Milliseconds since the run started. */
  ms(): number {
    return Math.round((performance.now() - this.#t0) * 10) / 10;
  }

  /** The ISO-8601 time of an offset (default: now). */
  iso(ms: number = this.ms()): string {
    return new Date(this.#epoch + ms).toISOString();
  }

  /** The offset of a wall-clock time in epoch milliseconds. */
  offset(epochMs: number): number {
    return Math.round((epochMs - this.#epoch) * 10) / 10;
  }
}

/** The report directory is in use; nothing was written. */
export class ReportDirError extends CorralError {}

/**
 * `report.html` for a report directory: its journal and the QMP events of
 * its `events.jsonl` (what `corral report DIR` redraws old runs from).
 */
export async function renderReport(dir: string, journal?: RunJournal): Promise<string> {
  journal ??= await readJournal(dir);
  return reportHtml(journal, await readEvents(`${dir}/events.jsonl`));
}

/** A report directory's files cannot be drawn: what is wrong, and with which file. */
export class ReportFileError extends CorralError {}

/**
 * A report's `journal.json`, checked to be one (what `corral report`
 * reads back may have been edited, cut or crafted).
 *
 * @throws {ReportFileError} Missing, not JSON, or not a corral journal.
 */
export async function readJournal(dir: string): Promise<RunJournal> {
  const file = `${dir}/journal.json`;
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(file));
  } catch (cause) {
    throw new ReportFileError(`${file} cannot be read as JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const problem = journalProblem(value);
  if (problem) throw new ReportFileError(`${file} is not a corral run journal: ${problem}`);
  return value as RunJournal;
}

function journalProblem(value: unknown): string | undefined {
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return `it holds ${JSON.stringify(value)?.slice(0, 40)}, not an object`;
  }
  const journal = value as Record<string, unknown>;
  for (const key of ["recipe", "verdict", "reason"]) {
    if (typeof journal[key] !== "string") return `${key} is not text`;
  }
  if (typeof journal.durationMs !== "number") return "durationMs is not a number";
  if (!Array.isArray(journal.metrics)) return "metrics is not a list";
  if (!Array.isArray(journal.steps)) return "steps is not a list";
  for (const [i, step] of (journal.steps as unknown[]).entries()) {
    const record = step as Record<string, unknown> | null;
    if (!record || typeof record !== "object" || !Array.isArray(record.targets)) {
      return `steps[${i}] has no list of targets`;
    }
    if (typeof record.name !== "string") return `steps[${i}].name is not text`;
    const target = (record.targets as Record<string, unknown>[]).findIndex((t) =>
      !t || typeof t.vm !== "string" || typeof t.status !== "string"
    );
    if (target !== -1) return `steps[${i}].targets[${target}] has no vm and status`;
  }
  return undefined;
}

/** The most event data one report page takes; past it the report says so instead of drawing. */
const MAX_EVENT_BYTES = 256 * 1024 * 1024;
/** The longest line of events.jsonl that is read. */
const MAX_EVENT_LINE = 1024 * 1024;

/**
 * The QMP events of a report's `events.jsonl`, read a line at a time. A
 * missing file has none; a last line cut by a crash is skipped.
 *
 * @throws {ReportFileError} A line too long, lines that are not JSON
 *   (but the last), or more events than one page can hold.
 */
export async function readEvents(file: string): Promise<ReportEvent[]> {
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new ReportFileError(`${file} cannot be read: ${(error as Error).message}`);
  }
  try {
    return await eventsOf(handle, file);
  } finally {
    // Read to its end the stream closed the file; stopped early (a bad line), it did not.
    try {
      handle.close();
    } catch { /* closed already */ }
  }
}

async function eventsOf(handle: Deno.FsFile, file: string): Promise<ReportEvent[]> {
  const events: ReportEvent[] = [];
  let bytes = 0;
  let bad: number | undefined;
  let number = 0;
  for await (const line of lines(handle.readable, file)) {
    number++;
    if (bad !== undefined) {
      throw new ReportFileError(`${file} line ${bad} is not JSON (and more lines follow)`);
    }
    if (!line.trim()) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      bad = number; // the last line may have been cut by a crash: the rest still draws
      continue;
    }
    if (record?.type !== "qmp-event") continue;
    bytes += line.length;
    if (bytes > MAX_EVENT_BYTES) {
      throw new ReportFileError(
        `${file} holds more than ${MAX_EVENT_BYTES / 1024 ** 2} MiB of events ` +
          `(${events.length} by line ${number}): too many to draw in one page`,
      );
    }
    events.push({
      ms: record.ms as number,
      vm: record.vm as string,
      event: record.event as string,
      data: record.data,
    });
  }
  return events;
}

/** The lines of a stream, each at most `MAX_EVENT_LINE` long. */
async function* lines(stream: ReadableStream<Uint8Array>, file: string): AsyncGenerator<string> {
  let pending = "";
  let number = 1;
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let end;
    while ((end = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, end);
      pending = pending.slice(end + 1);
      number++;
    }
    if (pending.length > MAX_EVENT_LINE) {
      throw new ReportFileError(`${file} line ${number} is longer than 1 MiB: not an events file`);
    }
  }
  if (pending) yield pending;
}

/** JUnit XML: a test case per step × VM. */
export function junit(journal: RunJournal): string {
  const suite = junitSuite(journal);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="corral" tests="${suite.tests}" failures="${suite.failures}" time="${
      seconds(journal.durationMs)
    }">`,
    ...suite.lines,
    "</testsuites>",
    "",
  ].join("\n");
}

/**
 * A run as one `<testsuite>` (named `name`, default the recipe's), with
 * more `properties` (a suite's flaky and quarantine marks), for `junit`
 * and for a suite's merged file.
 */
export function junitSuite(
  journal: RunJournal,
  name = journal.recipe,
  properties: Record<string, string> = {},
): { lines: string[]; tests: number; failures: number } {
  const cases = journal.steps.flatMap((step) => step.targets.map((target) => ({ step, target })));
  const failures = cases.filter(({ target }) => countsAsFailed(target));
  const skipped = cases.filter(({ target }) => target.status === "skipped");
  // A run that failed without a failed step (its VMs never came up, an invariant broke) fails here too.
  const unexplained = journal.verdict !== "pass" && failures.length === 0;
  const tests = cases.length + (unexplained ? 1 : 0);
  const failed = failures.length + (unexplained ? 1 : 0);
  const more = Object.entries(properties).map(([k, v]) =>
    `<property name="${xml(k)}" value="${xml(v)}"/>`
  ).join("");
  const lines = [
    `  <testsuite name="${
      xml(name)
    }" tests="${tests}" failures="${failed}" skipped="${skipped.length}" time="${
      seconds(journal.durationMs)
    }">`,
    `    <properties><property name="seed" value="${journal.seed}"/><property name="verdict" value="${journal.verdict}"/>${more}</properties>`,
  ];
  for (const { step, target } of cases) {
    const time = target.startMs !== undefined && target.endMs !== undefined
      ? seconds(target.endMs - target.startMs)
      : "0";
    const head = `    <testcase classname="${xml(journal.recipe)}.${xml(target.vm)}" name="${
      xml(step.name)
    }" time="${time}"`;
    if (target.status === "ok" || target.allowed) lines.push(`${head}/>`);
    else if (target.status === "skipped") lines.push(`${head}><skipped/></testcase>`);
    else {
      lines.push(
        `${head}><failure type="${target.status}" message="${
          xml(target.error ?? target.status)
        }"/></testcase>`,
      );
    }
  }
  if (unexplained) {
    lines.push(
      `    <testcase classname="${
        xml(journal.recipe)
      }" name="verdict" time="0"><failure type="${journal.verdict}" message="${
        xml(journal.reason ?? journal.verdict)
      }"/></testcase>`,
    );
  }
  lines.push("  </testsuite>");
  return { lines, tests, failures: failed };
}

/**
 * The terminal summary: steps × VMs, metrics, verdict. When a column per
 * VM does not fit in `width`, the VMs are folded by group: a column per
 * group, saying how many of its VMs were not ok.
 */
export function summary(
  journal: RunJournal,
  color: boolean,
  options: { width?: number } = {},
): string {
  // Names and errors come from guests and QEMU: nothing in them may act on the terminal.
  journal = JSON.parse(
    JSON.stringify(journal),
    (_, value) => typeof value === "string" ? printable(value) : value,
  );
  const vms = [...new Set(journal.steps.flatMap((step) => step.targets.map((t) => t.vm)))];
  const nameWidth0 = Math.max(4, ...journal.steps.map((step) => step.name.length));
  const perVm = nameWidth0 + 2 + vms.length * (Math.max(5, ...vms.map((vm) => vm.length)) + 1);
  if (options.width !== undefined && perVm > options.width) {
    return foldedSummary(journal, color, vms);
  }
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const mark = (target: TargetRecord | undefined): string => {
    if (!target) return "·";
    if (target.status === "ok") return paint(32, "ok");
    if (target.status === "skipped") return paint(90, "skip");
    if (target.allowed) return paint(33, target.status === "timeout" ? "time*" : "fail*");
    return paint(
      31,
      target.status === "timeout" ? "TIME" : target.status === "error" ? "ERR" : "FAIL",
    );
  };
  const nameWidth = Math.max(4, ...journal.steps.map((step) => step.name.length));
  const colWidth = Math.max(5, ...vms.map((vm) => vm.length));
  const pad = (text: string, width: number) =>
    text + " ".repeat(Math.max(0, width - visible(text)));
  const lines = [
    `${pad("step", nameWidth)}  ${vms.map((vm) => pad(vm, colWidth)).join(" ")}`,
    ...journal.steps.map((step) =>
      `${pad(step.name, nameWidth)}  ${
        vms.map((vm) => pad(mark(step.targets.find((t) => t.vm === vm)), colWidth)).join(" ")
      }`
    ),
  ];
  if (journal.steps.some((step) => step.targets.some((t) => t.allowed))) {
    lines.push(
      "* a failure that was allowed (continue-on-error, max-failures or rescued): it does not fail the run",
    );
  }
  for (const metric of journal.metrics) lines.push(metricLine(metric));
  const verdictColor = { pass: 32, fail: 31, unknown: 33, error: 31 }[journal.verdict];
  lines.push(
    `verdict: ${
      paint(verdictColor, journal.verdict.toUpperCase())
    } (${journal.reason}), seed ${journal.seed}, ${showDuration(journal.durationMs)}`,
  );
  return lines.join("\n");
}

/** The summary with a column per group (the first group of each VM; `(no group)` else). */
function foldedSummary(journal: RunJournal, color: boolean, vms: string[]): string {
  const groupOf = new Map((journal.vms ?? []).map((vm) => [vm.name, vm.groups[0] ?? "(no group)"]));
  const groups = new Map<string, string[]>();
  for (const vm of vms) {
    const group = groupOf.get(vm) ?? "(no group)";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(vm);
  }
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const cell = (targets: TargetRecord[], members: number): string => {
    if (targets.length === 0) return "·";
    const bad = targets.filter((t) => t.status !== "ok" && t.status !== "skipped");
    if (bad.length === 0) {
      return targets.every((t) => t.status === "skipped")
        ? paint(90, "skip")
        : paint(32, `ok ${targets.length}/${members}`);
    }
    const allowed = bad.every((t) => t.allowed);
    return paint(allowed ? 33 : 31, `${bad.length} ${allowed ? "fail*" : "FAIL"}`);
  };
  const names = [...groups.keys()];
  const nameWidth = Math.max(4, ...journal.steps.map((step) => step.name.length));
  const colWidth = Math.max(9, ...names.map((g) => g.length + 4));
  const pad = (text: string, width: number) =>
    text + " ".repeat(Math.max(0, width - visible(text)));
  const lines = [
    `${vms.length} VMs, folded by group:`,
    `${pad("step", nameWidth)}  ${
      names.map((g) => pad(`${g} (${groups.get(g)!.length})`, colWidth)).join(" ")
    }`,
    ...journal.steps.map((step) =>
      `${pad(step.name, nameWidth)}  ${
        names.map((g) => {
          const members = groups.get(g)!;
          return pad(
            cell(step.targets.filter((t) => members.includes(t.vm)), members.length),
            colWidth,
          );
        }).join(" ")
      }`
    ),
  ];
  if (journal.steps.some((step) => step.targets.some((t) => t.allowed))) {
    lines.push("* failures that were allowed (continue-on-error, max-failures or rescued)");
  }
  // Metrics and the verdict, as the unfolded summary has them.
  const rest = summary({ ...journal, steps: [] }, color).split("\n").slice(1);
  return [...lines, ...rest].join("\n");
}

function visible(text: string): number {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[\d+m/g, "").length;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function xml(text: string): string {
  // Characters XML forbids (a guest's ESC or NUL in an error) would make the whole file invalid.
  return printable(text).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `metric NAME: a 12 ms, b 30 ms (max 1 s: ok)`; an availability in %, with its least. */
function metricLine(metric: MetricRecord): string {
  const show = (n: number) => metric.unit === "%" ? `${n}%` : showDuration(n);
  const values = Object.entries(metric.values).map(([vm, n]) => `${vm} ${show(n)}`).join(", ");
  const verdict = metric.pass === undefined ? "not measured" : metric.pass ? "ok" : "EXCEEDED";
  const bound = metric.max !== undefined
    ? ` (max ${show(metric.max)}: ${verdict})`
    : metric.min !== undefined
    ? ` (min ${show(metric.min)}: ${verdict === "EXCEEDED" ? "BELOW" : verdict})`
    : "";
  return `metric ${metric.name}: ${values || "not measured"}${bound}`;
}
