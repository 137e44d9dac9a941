/**
 * A suite's own report, beside each run's folder: one `junit.xml` with a
 * `<testsuite>` per recipe run (its flaky and quarantine marks as
 * properties), and `index.html`, a table of verdicts, durations and marks
 * linking every run's `report.html`.
 *
 * @module
 */

import { junitSuite } from "../report.ts";
import type { SuiteResult } from "./run_suite.ts";

/** Write `junit.xml` and `index.html` into `dir`. */
export async function writeSuiteReport(
  dir: string,
  results: readonly SuiteResult[],
): Promise<void> {
  await Deno.writeTextFile(`${dir}/junit.xml`, suiteJunit(results));
  await Deno.writeTextFile(`${dir}/index.html`, suiteIndex(results, dir));
}

/** The merged JUnit file: a quarantined failure is reported as skipped, with its reason. */
export function suiteJunit(results: readonly SuiteResult[]): string {
  let tests = 0, failures = 0;
  const lines: string[] = [];
  for (const result of results) {
    const last = result.attempts.at(-1)!;
    const properties: Record<string, string> = {
      outcome: result.outcome,
      attempts: String(result.attempts.length),
    };
    if (result.quarantine?.holds) {
      Object.assign(properties, {
        quarantined: result.quarantine.reason,
        until: result.quarantine.until,
      });
    }
    const suite = junitSuite(last.journal, result.entry.id, properties);
    const excused = result.outcome === "fail" && result.quarantine?.holds;
    tests += suite.tests;
    failures += excused ? 0 : suite.failures;
    // CI systems read failures: a quarantined one must not fail the build, so it is marked skipped.
    lines.push(...(excused ? suite.lines.map(skipFailure) : suite.lines));
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="corral test" tests="${tests}" failures="${failures}">`,
    ...lines,
    "</testsuites>",
    "",
  ].join("\n");
}

function skipFailure(line: string): string {
  return line.replace(
    /<failure type="[^"]*" message="([^"]*)"\/>/,
    `<skipped message="quarantined: $1"/>`,
  )
    .replace(/ failures="\d+"/, ` failures="0"`);
}

/** `index.html`: a row per recipe run, linking its report (relative to `dir`). */
export function suiteIndex(results: readonly SuiteResult[], dir: string): string {
  const rows = results.map((result) => {
    const last = result.attempts.at(-1)!;
    const mark = result.outcome === "fail" && result.quarantine?.holds
      ? `quarantined until ${result.quarantine.until}: ${result.quarantine.reason}`
      : result.outcome === "flaky"
      ? `flaky: passed on attempt ${result.attempts.length}`
      : result.quarantine && !result.quarantine.holds
      ? `quarantine ended ${result.quarantine.until}`
      : "";
    const link = last.report === undefined
      ? esc(result.entry.id)
      : `<a href="${esc(relative(last.report, dir))}/report.html">${esc(result.entry.id)}</a>`;
    const earlier = result.attempts.slice(0, -1).filter((a) => a.report).map((a, i) =>
      ` <a href="${esc(relative(a.report!, dir))}/report.html">attempt ${i + 1}</a>`
    ).join("");
    return `<tr class="${result.outcome}"><td>${link}${earlier}</td><td>${
      esc(result.entry.recipe.name)
    }</td>` +
      `<td>${result.outcome}</td><td>${(last.durationMs / 1000).toFixed(1)} s</td>` +
      `<td>${esc(mark)}</td><td>${esc(last.reason ?? "")}</td></tr>`;
  });
  const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>corral test</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: left; }
tr.pass td:nth-child(3) { color: #1a7f37; } tr.fail td:nth-child(3) { color: #cf222e; }
tr.flaky td:nth-child(3) { color: #9a6700; }
</style></head><body>
<h1>corral test: ${count("pass")} passed, ${count("flaky")} flaky, ${count("fail")} failed</h1>
<table><thead><tr><th>run</th><th>recipe</th><th>outcome</th><th>time</th><th>mark</th><th>reason</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table></body></html>
`;
}

function relative(path: string, dir: string): string {
  return path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : path;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
