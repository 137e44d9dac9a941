/**
 * `report.html`: one self-contained page that tells a run as a story in
 * time, offline. A lane per VM on one time axis; steps as bars coloured by
 * status; QMP events as marks with their data on hover; the windows a
 * duration metric measures (fault to recovery) shaded and labelled; each
 * fault's window from its step to its heal; a lane per probe; invariant
 * violations marked and listed; links to the captures; the
 * verdict and its reason on top; filters by VM, group and event; groups
 * folded into one lane each when there are many VMs; zoom. Drawn as SVG by
 * the page's script (`_report_page.ts`, type-checked TypeScript) from the
 * run's own (already masked) data.
 *
 * @module
 */

import type { ReportEvent, RunJournal } from "./journal.ts";
import { pageScript } from "./_report_page.ts";

export type { ReportEvent } from "./journal.ts";

/** Above this many VMs the page opens with groups folded. */
export const FOLD_ABOVE = 60;

/**
 * The page for `journal` and its events (secrets are masked in both already).
 *
 * @example
 * ```ts
 * import { reportHtml } from "./html.ts";
 * import assert from "node:assert/strict";
 *
 * const page = reportHtml({
 *   recipe: "r", file: "r.yaml", seed: 1, startedAt: "2026-01-01T00:00:00.000Z",
 *   durationMs: 10, verdict: "pass", reason: "ok", steps: [], metrics: [],
 * }, []);
 * assert.match(page, /^<!doctype html>/);
 * ```
 */
export function reportHtml(journal: RunJournal, events: readonly ReportEvent[]): string {
  const data = JSON.stringify({ journal, events, foldAbove: FOLD_ABOVE })
    .replaceAll("<", "\\u003c").replaceAll("\u2028", "\\u2028").replaceAll("\u2029", "\\u2029");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(journal.recipe)}: ${escapeHtml(journal.verdict)} — corral report</title>
<style>${STYLE}</style>
</head>
<body data-rendered="false" data-errors="0">
<header>
  <div class="verdict v-${escapeHtml(journal.verdict)}" id="verdict">${
    escapeHtml(String(journal.verdict).toUpperCase())
  }</div>
  <div class="title">
    <h1>${escapeHtml(journal.recipe)}</h1>
    <p id="reason">${escapeHtml(journal.reason)}</p>
    <p class="meta" id="meta"></p>
  </div>
</header>
<section id="metrics"></section>
<section id="drill"></section>
<nav id="controls">
  <label>VM <input id="filter" type="search" placeholder="name or glob, e.g. web*"></label>
  <label>group <select id="group"><option value="">all</option></select></label>
  <label><input id="fold" type="checkbox"> fold groups</label>
  <span class="zoom"><button id="zoom-out" title="zoom out">−</button><button id="zoom-fit" title="fit">fit</button><button id="zoom-in" title="zoom in">+</button></span>
  <span id="event-filters"></span>
</nav>
<div id="legend"></div>
<main id="timeline"></main>
<aside id="details" hidden></aside>
<footer>corral report · times in ms since the run started · hover a bar or a mark for its details, click to keep them</footer>
<script type="application/json" id="data">${data}</script>
<script>${pageScript()}</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root { --ok:#2f9e57; --failed:#d64541; --timeout:#e67e22; --error:#8e1b1b; --skipped:#c9ccd1;
  --fg:#1d2329; --muted:#6b7480; --line:#e3e6ea; --bg:#fff; --fault:rgba(214,69,65,.10); }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: center; padding: 16px 20px 8px; }
.verdict { font-weight: 700; font-size: 20px; padding: 10px 16px; border-radius: 8px; color: #fff; letter-spacing: .05em; }
.v-pass { background: var(--ok); } .v-fail { background: var(--failed); } .v-error { background: var(--error); }
.v-unknown { background: #b38b00; }
h1 { margin: 0; font-size: 18px; } .title p { margin: 2px 0; } .meta { color: var(--muted); }
#metrics { padding: 0 20px; } #metrics table { border-collapse: collapse; margin: 6px 0 10px; }
#metrics th, #metrics td { padding: 3px 10px; border-bottom: 1px solid var(--line); text-align: left; font-variant-numeric: tabular-nums; }
#metrics .bad { color: var(--failed); font-weight: 600; } #metrics .good { color: var(--ok); font-weight: 600; }
nav { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; padding: 8px 20px; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); background: #f7f8fa; position: sticky; top: 0; z-index: 2; }
nav input[type=search] { width: 180px; } .zoom button { min-width: 30px; }
#event-filters label { margin-right: 8px; white-space: nowrap; }
#legend { padding: 6px 20px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 14px; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; }
main { overflow-x: auto; padding: 0 0 10px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--fg); }
.lane-label { font-weight: 600; cursor: default; } .lane-label.group { cursor: pointer; fill: #2457a6; }
.lane-bg:nth-child(odd) { fill: #fafbfc; }
.bar { stroke: #fff; stroke-width: 1; cursor: pointer; } .bar.allowed { opacity: .55; stroke-dasharray: 2 2; }
.mark line { stroke-width: 1.5; } .mark { cursor: pointer; }
.fault { fill: var(--fault); stroke: rgba(214,69,65,.45); stroke-dasharray: 3 2; }
.fault-label { fill: var(--failed); font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; pointer-events: none; }
.axis line { stroke: var(--line); } .axis text { fill: var(--muted); }
#details { position: fixed; right: 16px; bottom: 16px; max-width: 460px; max-height: 50vh; overflow: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; box-shadow: 0 4px 20px rgba(0,0,0,.12); padding: 10px 12px; white-space: pre-wrap; font: 12px ui-monospace, monospace; z-index: 3; }
footer { color: var(--muted); padding: 8px 20px 20px; }
#drill { padding: 0 20px; } #drill h2 { font-size: 14px; margin: 8px 0 4px; } #drill .bad { color: var(--failed); }
.fault-active { fill: rgba(230,126,34,.16); stroke: rgba(230,126,34,.6); stroke-width: 1; cursor: pointer; }
.attempt { cursor: pointer; } .attempt.ok { fill: var(--ok); } .attempt.failed { fill: var(--failed); }
.screen rect { fill: #2457a6; stroke: #fff; stroke-width: 1; cursor: pointer; }
.violation path { fill: #8e1b1b; stroke: #fff; stroke-width: 1; }
`;
