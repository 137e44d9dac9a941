/**
 * `report.html`: one self-contained page that tells a run as a story in
 * time, offline. A lane per VM on one time axis; steps as bars coloured by
 * status; QMP events as marks with their data on hover; the windows a
 * duration metric measures (fault to recovery) shaded and labelled; the
 * verdict and its reason on top; filters by VM, group and event; groups
 * folded into one lane each when there are many VMs; zoom. Drawn as SVG by
 * a small script in the page from the run's own (already masked) data.
 *
 * @module
 */

import type { RunJournal } from "./journal.ts";

/** A QMP event as `events.jsonl` records it. */
export interface ReportEvent {
  /** ms since the run started. */
  ms: number;
  /** The VM. */
  vm: string;
  /** The event's name. */
  event: string;
  /** Its data. */
  data?: unknown;
}

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
<script>${SCRIPT}</script>
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
`;

// The page's script: plain browser JavaScript, no dependencies.
const SCRIPT = String.raw`
(() => {
"use strict";
const errors = [];
addEventListener("error", (e) => { errors.push(String(e.message)); document.body.dataset.errors = String(errors.length); });
const { journal, events, foldAbove } = JSON.parse(document.getElementById("data").textContent);
const STATUS_COLOR = { ok: "var(--ok)", failed: "var(--failed)", timeout: "var(--timeout)", error: "var(--error)", skipped: "var(--skipped)" };
const RANK = { skipped: 0, ok: 1, timeout: 2, failed: 3, error: 4 };
const EVENT_COLOR = { GUEST_PANICKED: "#d64541", GUEST_CRASHLOADED: "#d64541", SHUTDOWN: "#1d2329", STOP: "#e67e22",
  RESUME: "#2f9e57", RESET: "#2457a6", POWERDOWN: "#6c3fb5", MIGRATION: "#8e44ad", MIGRATION_PASS: "#b07cc6",
  JOB_STATUS_CHANGE: "#148f8f", DEVICE_DELETED: "#7f8c8d", BLOCK_JOB_COMPLETED: "#148f8f" };
const eventColor = (name) => EVENT_COLOR[name] || "#7f8c8d";
const fmt = (ms) => ms < 1000 ? ms.toFixed(ms < 10 ? 1 : 0) + " ms" : ms < 60000 ? (ms / 1000).toFixed(2) + " s" : (ms / 60000).toFixed(1) + " min";
const esc = (t) => String(t).replace(/[<>&"']/g, (c) => "&#" + c.charCodeAt(0) + ";");

// Every VM, in the order the run knew them, with its groups.
const vmOrder = [];
const groupsOf = new Map();
for (const vm of journal.vms || []) { vmOrder.push(vm.name); groupsOf.set(vm.name, vm.groups || []); }
for (const step of journal.steps) for (const t of step.targets) if (!groupsOf.has(t.vm)) { vmOrder.push(t.vm); groupsOf.set(t.vm, []); }
for (const e of events) if (!groupsOf.has(e.vm)) { vmOrder.push(e.vm); groupsOf.set(e.vm, []); }
const groupOf = (vm) => (groupsOf.get(vm) || [])[0] || "(no group)";
const allGroups = [...new Set(vmOrder.flatMap((vm) => groupsOf.get(vm).length ? groupsOf.get(vm) : ["(no group)"]))];
const eventNames = [...new Set(events.map((e) => e.event))].sort();
// No spread over the events: a run's events are unbounded, a call's arguments are not.
const most = (values, pick, start) => { let m = start; for (const v of values) { const n = Number(pick(v)); if (n > m) m = n; } return m; };
const least = (values, pick, start) => { let m = start; for (const v of values) { const n = Number(pick(v)); if (n < m) m = n; } return m; };
const duration = most(events, (e) => e.ms || 0, most(journal.steps, (s) => s.endMs || 0, Math.max(1, Number(journal.durationMs) || 0)));

// #fold / #unfold in the address choose the start (a link to a large run unfolded, say).
const wanted = location.hash.slice(1);
const state = { filter: "", group: "", fold: wanted === "fold" || (wanted !== "unfold" && vmOrder.length > foldAbove), zoom: 1, hidden: new Set(), open: new Set() };

// Header: when, how long, seed, counts.
document.getElementById("meta").textContent = journal.file + " · started " + journal.startedAt + " · " + fmt(journal.durationMs) +
  " · seed " + journal.seed + " · " + vmOrder.length + " VM(s), " + journal.steps.length + " step(s), " + events.length + " event(s)";

// Metrics: per metric, min / median / max over the VMs, and the bound.
(() => {
  if (!journal.metrics.length) return;
  const rows = journal.metrics.map((m) => {
    const values = Object.values(m.values).sort((a, b) => a - b);
    const pick = (q) => values.length ? fmt(values[Math.min(values.length - 1, Math.floor(q * values.length))]) : "–";
    const verdict = m.pass === undefined ? (values.length ? "" : "<span class=bad>not measured</span>")
      : m.pass ? "<span class=good>within</span>" : "<span class=bad>EXCEEDED</span>";
    return "<tr><td>" + esc(m.name) + "</td><td>" + values.length + "</td><td>" + (values.length ? fmt(values[0]) : "–") + "</td><td>" +
      pick(0.5) + "</td><td>" + (values.length ? fmt(values[values.length - 1]) : "–") + "</td><td>" +
      (m.max === undefined ? "" : fmt(m.max)) + "</td><td>" + verdict + "</td></tr>";
  });
  document.getElementById("metrics").innerHTML = "<table><tr><th>metric</th><th>VMs</th><th>min</th><th>median</th><th>max</th><th>bound</th><th></th></tr>" + rows.join("") + "</table>";
})();

// Controls.
const groupSelect = document.getElementById("group");
for (const g of allGroups) { const o = document.createElement("option"); o.value = g; o.textContent = g; groupSelect.append(o); }
const evBox = document.getElementById("event-filters");
for (const name of eventNames) {
  const label = document.createElement("label");
  label.innerHTML = "<input type=checkbox checked data-event-filter='" + esc(name) + "'> <span class=sw style='background:" + eventColor(name) + "'></span>" + esc(name);
  evBox.append(label);
}
document.getElementById("legend").innerHTML = Object.entries(STATUS_COLOR).map(([s, c]) => "<span><span class=sw style='background:" + c + "'></span>" + s + "</span>").join("") +
  "<span><span class=sw style='background:var(--fault);border:1px dashed var(--failed)'></span>measured window (metric)</span>";
const fold = document.getElementById("fold");
fold.checked = state.fold;
const on = (id, type, fn) => document.getElementById(id).addEventListener(type, fn);
on("filter", "input", (e) => { state.filter = e.target.value.trim(); render(); });
on("group", "change", (e) => { state.group = e.target.value; render(); });
on("fold", "change", (e) => { state.fold = e.target.checked; state.open.clear(); render(); });
on("zoom-in", "click", () => { state.zoom = Math.min(64, state.zoom * 1.6); render(); });
on("zoom-out", "click", () => { state.zoom = Math.max(1, state.zoom / 1.6); render(); });
on("zoom-fit", "click", () => { state.zoom = 1; render(); });
evBox.addEventListener("change", (e) => {
  const name = e.target.dataset.eventFilter;
  if (e.target.checked) state.hidden.delete(name); else state.hidden.add(name);
  render();
});
document.getElementById("timeline").addEventListener("wheel", (e) => {
  if (!e.ctrlKey) return;
  e.preventDefault();
  state.zoom = Math.max(1, Math.min(64, state.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
  render();
}, { passive: false });

const globToRegExp = (glob) => new RegExp("^" + glob.replace(/[.+^$()|[\]{}\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
function visibleVms() {
  const matcher = !state.filter ? null : /[*?]/.test(state.filter) ? globToRegExp(state.filter) : null;
  return vmOrder.filter((vm) =>
    (!state.group || (groupsOf.get(vm).length ? groupsOf.get(vm) : ["(no group)"]).includes(state.group)) &&
    (!state.filter || (matcher ? matcher.test(vm) : vm.includes(state.filter))));
}

// Rows: a VM each, or (folded) a group each unless that group was opened.
function rows() {
  const vms = visibleVms();
  if (!state.fold) return vms.map((vm) => ({ label: vm, vms: [vm], kind: "vm" }));
  const out = [];
  const byGroup = new Map();
  for (const vm of vms) { const g = groupOf(vm); if (!byGroup.has(g)) byGroup.set(g, []); byGroup.get(g).push(vm); }
  for (const [g, members] of byGroup) {
    if (state.open.has(g)) { out.push({ label: "▾ " + g, vms: [], kind: "group", group: g, count: members.length }); out.push(...members.map((vm) => ({ label: vm, vms: [vm], kind: "vm" }))); }
    else out.push({ label: "▸ " + g + " (" + members.length + ")", vms: members, kind: "group", group: g, count: members.length });
  }
  return out;
}

const LABEL = 170, LANE = 22, TOP = 28;
function render() {
  const host = document.getElementById("timeline");
  const width = Math.max(400, (host.clientWidth || 1200) - LABEL - 24) * state.zoom;
  const x = (ms) => LABEL + (Math.max(0, ms) / duration) * width;
  const list = rows();
  const STEPS = 26;
  const height = TOP + STEPS + list.length * LANE + 10;
  const parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + (LABEL + width + 20) + '" height="' + height + '" role="img" aria-label="timeline">'];
  // Axis.
  const step = niceStep(duration / Math.max(2, width / 110));
  parts.push('<g class="axis">');
  for (let t = 0; t <= duration; t += step) {
    parts.push('<line x1="' + x(t) + '" x2="' + x(t) + '" y1="' + (TOP - 6) + '" y2="' + height + '"/><text x="' + (x(t) + 3) + '" y="' + (TOP - 10) + '">' + fmt(t) + "</text>");
  }
  parts.push("</g>");
  // The steps, in a lane of their own: where each began and ended, named where there is room.
  parts.push('<g class="steps-lane">');
  for (const s of journal.steps) {
    if (!s.targets.some((t) => t.status !== "skipped")) continue;
    const worst = s.targets.reduce((a, t) => RANK[t.status] > RANK[a] ? t.status : a, "ok");
    const x0 = x(s.startMs), w = Math.max(2, x(s.endMs) - x0);
    parts.push('<g class="step-head" data-step="' + esc(s.name) + '"><rect x="' + x0 + '" y="' + (TOP + 3) + '" width="' + w + '" height="' + (STEPS - 8) +
      '" rx="3" fill="' + STATUS_COLOR[worst] + '" opacity=".22"/><line x1="' + x0 + '" x2="' + x0 + '" y1="' + (TOP + STEPS) + '" y2="' + height + '" stroke="#c9ccd1" stroke-dasharray="2 4"/>' +
      (w > 40 ? '<text x="' + (x0 + 4) + '" y="' + (TOP + 17) + '" clip-path="inset(0)">' + esc(s.name.length * 6 > w ? s.name.slice(0, Math.max(1, Math.floor(w / 6) - 1)) + "…" : s.name) + "</text>" : "") +
      "<title>" + esc(s.name + " — " + fmt(s.endMs - s.startMs) + " (" + s.action + ")") + "</title></g>");
  }
  parts.push('<text class="lane-label" x="8" y="' + (TOP + 17) + '">steps</text></g>');
  list.forEach((row, i) => {
    const y = TOP + STEPS + i * LANE;
    const members = new Set(row.vms);
    parts.push('<g class="lane" data-lane="' + esc(row.kind === "vm" ? row.vms[0] : row.group) + '" data-kind="' + row.kind + '">');
    parts.push('<rect class="lane-bg" x="0" y="' + y + '" width="' + (LABEL + width + 20) + '" height="' + LANE + '" fill="' + (i % 2 ? "#fff" : "#fafbfc") + '"/>');
    parts.push('<text class="lane-label' + (row.kind === "group" ? " group" : "") + '" x="8" y="' + (y + 15) + '"' +
      (row.kind === "group" ? ' data-group="' + esc(row.group) + '"' : "") + ">" + esc(row.label.length > 26 ? row.label.slice(0, 25) + "…" : row.label) + "<title>" + esc(row.label) + "</title></text>");
    // Measured windows (duration metrics): fault to recovery; their labels go on top, last.
    const labels = [];
    for (const m of journal.metrics) for (const [vm, span] of Object.entries(m.spans || {})) {
      if (!members.has(vm)) continue;
      const [a, b] = span;
      parts.push('<g class="fault-window" data-metric="' + esc(m.name) + '"><rect class="fault" x="' + x(a) + '" y="' + (y + 1) + '" width="' + Math.max(1, x(b) - x(a)) + '" height="' + (LANE - 2) + '"/></g>');
      if (row.kind === "vm") labels.push('<text class="fault-label" x="' + (x(b) - x(a) > 110 ? x(a) + 4 : x(b) + 3) + '" y="' + (y + 15) + '">' + esc(m.name) + " " + fmt(m.values[vm] ?? b - a) + "</text>");
    }
    // Step bars: per VM, or the worst status of the group's VMs.
    for (const s of journal.steps) {
      const ts = s.targets.filter((t) => members.has(t.vm) && t.status !== undefined);
      if (!ts.length) continue;
      const worst = ts.reduce((a, t) => RANK[t.status] > RANK[a.status] ? t : a, ts[0]);
      const start = least(ts, (t) => t.startMs ?? s.startMs, Infinity);
      const end = most(ts, (t) => t.endMs ?? s.endMs, -Infinity);
      const failed = ts.filter((t) => t.status !== "ok" && t.status !== "skipped").length;
      const tip = s.name + " — " + (row.kind === "vm" ? worst.status + (worst.allowed ? " (allowed)" : "") : ts.length + " VM(s), " + failed + " not ok") +
        " — " + fmt(end - start) + (worst.error ? "\n" + worst.error : "");
      parts.push('<rect class="bar' + (worst.allowed ? " allowed" : "") + '" data-step="' + esc(s.name) + '" data-status="' + esc(worst.status) + '" x="' + x(start) + '" y="' + (y + 5) +
        '" width="' + Math.max(2, x(end) - x(start)) + '" height="' + (LANE - 10) + '" rx="2" fill="' + STATUS_COLOR[worst.status] + '"><title>' + esc(tip) + "</title></rect>");
    }
    // Events.
    for (const e of events) {
      if (!members.has(e.vm) || state.hidden.has(e.event)) continue;
      const cx = x(e.ms);
      const tip = e.event + " on " + e.vm + " at " + fmt(e.ms) + (e.data === undefined ? "" : "\n" + JSON.stringify(e.data, null, 1));
      parts.push('<g class="mark" data-event="' + esc(e.event) + '" data-vm="' + esc(e.vm) + '"><line x1="' + cx + '" x2="' + cx + '" y1="' + (y + 2) + '" y2="' + (y + LANE - 2) + '" stroke="' + eventColor(e.event) +
        '"/><circle cx="' + cx + '" cy="' + (y + 4) + '" r="' + (e.event === "GUEST_PANICKED" || e.event === "SHUTDOWN" ? 4.5 : 3) + '" fill="' + eventColor(e.event) + '" stroke="#fff" stroke-width="1"/><title>' + esc(tip) + "</title></g>");
    }
    parts.push(...labels, "</g>");
  });
  parts.push("</svg>");
  host.innerHTML = parts.join("");
  document.body.dataset.rendered = "true";
  document.body.dataset.lanes = String(list.length);
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

// A click keeps a bar's or a mark's details; a click on a folded group opens it.
document.getElementById("timeline").addEventListener("click", (e) => {
  const group = e.target.closest("[data-group]");
  if (group) { const g = group.dataset.group; if (state.open.has(g)) state.open.delete(g); else state.open.add(g); render(); return; }
  const item = e.target.closest(".bar, .mark");
  const box = document.getElementById("details");
  if (!item) { box.hidden = true; return; }
  box.textContent = item.querySelector("title").textContent;
  box.hidden = false;
});
addEventListener("resize", () => render());
render();
})();
`;
