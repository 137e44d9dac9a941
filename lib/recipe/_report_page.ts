/**
 * The script of `report.html`, written as TypeScript so that it is
 * type-checked (against the journal's own types and the few DOM members
 * it uses, declared below) and linted like the rest. The page embeds these functions' JavaScript — Deno strips
 * their types — so they may use nothing from module scope but each other:
 * every value they share goes through the `Page` they are handed.
 *
 * @module
 */

import type { MetricRecord, StepRecord } from "./journal.ts";
import {
  BASE_FUNCTIONS,
  byId,
  type Doc,
  type El,
  esc,
  eventColor,
  fmt,
  globToRegExp,
  LABEL,
  LANE,
  type Lane,
  least,
  most,
  niceStep,
  type Page,
  type PageData,
  rank,
  type Row,
  type Status,
  statusColor,
  STEPS,
  TOP,
} from "./_report_base.ts";
import {
  drawDrill,
  drawFaults,
  drawProbeLanes,
  drawScreens,
  drawViolations,
  DRILL_FUNCTIONS,
  probeRows,
} from "./_report_drills.ts";

declare const document: Doc;
/** Every VM, in the order the run knew them, with its groups; the run's length. */
function openPage(data: PageData): Page {
  const { journal, events } = data;
  const vmOrder: string[] = [];
  const groupsOf = new Map<string, string[]>();
  const add = (vm: string, groups: string[]) => {
    if (groupsOf.has(vm)) return;
    vmOrder.push(vm);
    groupsOf.set(vm, groups);
  };
  for (const vm of journal.vms ?? []) add(vm.name, [...(vm.groups ?? [])]);
  for (const step of journal.steps) for (const t of step.targets) add(t.vm, []);
  for (const e of events) add(e.vm, []);
  const lastStep = most(journal.steps, (s) => s.endMs || 0, Math.max(1, journal.durationMs || 0));
  // #fold / #unfold in the address choose the start (a link to a large run unfolded, say).
  const wanted = location.hash.slice(1);
  const fold = wanted === "fold" || (wanted !== "unfold" && vmOrder.length > data.foldAbove);
  return {
    ...data,
    vmOrder,
    groupsOf,
    duration: most(events, (e) => e.ms || 0, lastStep),
    state: { filter: "", group: "", fold, zoom: 1, hidden: new Set(), open: new Set() },
  };
}

function groupsOfVm(page: Page, vm: string): string[] {
  const groups = page.groupsOf.get(vm) ?? [];
  return groups.length ? groups : ["(no group)"];
}

/** Header: when, how long, seed, counts. */
function drawMeta({ journal, events, vmOrder }: Page): void {
  byId("meta").textContent = journal.file + " · started " + journal.startedAt + " · " +
    fmt(journal.durationMs) + " · seed " + journal.seed + " · " + vmOrder.length + " VM(s), " +
    journal.steps.length + " step(s), " + events.length + " event(s)";
}

/** Metrics: per metric, min / median / max over the VMs, and the bound. */
function drawMetrics({ journal }: Page): void {
  if (!journal.metrics.length) return;
  const rows = journal.metrics.map((m: MetricRecord) => {
    const values = Object.values(m.values).sort((a, b) => a - b);
    const show = (n: number) => m.unit === "%" ? n + "%" : fmt(n);
    const at = (q: number) =>
      show(values[Math.min(values.length - 1, Math.floor(q * values.length))]!);
    const verdict = m.pass === undefined
      ? (values.length ? "" : "<span class=bad>not measured</span>")
      : m.pass
      ? "<span class=good>within</span>"
      : "<span class=bad>EXCEEDED</span>";
    const cells = values.length
      ? [at(0), at(0.5), show(values[values.length - 1]!)]
      : ["–", "–", "–"];
    return "<tr><td>" + esc(m.name) + "</td><td>" + values.length + "</td><td>" +
      cells.join("</td><td>") + "</td><td>" +
      (m.max !== undefined ? show(m.max) : m.min !== undefined ? "≥ " + show(m.min) : "") +
      "</td><td>" + verdict + "</td></tr>";
  });
  byId("metrics").innerHTML = "<table><tr><th>metric</th><th>VMs</th><th>min</th><th>median</th>" +
    "<th>max</th><th>bound</th><th></th></tr>" + rows.join("") + "</table>";
}

/** The group and event filters and the legend. */
function drawControls(page: Page): void {
  const groupSelect = byId("group");
  const groups = [...new Set(page.vmOrder.flatMap((vm) => groupsOfVm(page, vm)))];
  for (const g of groups) {
    const option = document.createElement("option");
    option.value = g;
    option.textContent = g;
    groupSelect.append(option);
  }
  const box = byId("event-filters");
  for (const name of [...new Set(page.events.map((e) => e.event))].sort()) {
    const label = document.createElement("label");
    label.innerHTML = "<input type=checkbox checked data-event-filter='" + esc(name) +
      "'> <span class=sw style='background:" + eventColor(name) + "'></span>" + esc(name);
    box.append(label);
  }
  const statuses: Status[] = ["ok", "failed", "timeout", "error", "skipped"];
  byId("legend").innerHTML =
    statuses.map((s) =>
      "<span><span class=sw style='background:" + statusColor(s) + "'></span>" + s + "</span>"
    ).join("") +
    "<span><span class=sw style='background:var(--fault);border:1px dashed var(--failed)'>" +
    "</span>measured window (metric)</span>" +
    "<span><span class=sw style='background:rgba(230,126,34,.16);border:1px solid rgba(230,126,34,.6)'>" +
    "</span>fault active</span>";
  byId("fold").checked = page.state.fold;
}

/** What the reader does: filter, fold, zoom, open a group, keep a detail. */
function listen(page: Page): void {
  const { state } = page;
  const on = (id: string, type: string, change: (target: El) => void) =>
    byId(id).addEventListener(type, (e) => {
      change(e.target);
      render(page);
    });
  on("filter", "input", (t) => state.filter = t.value.trim());
  on("group", "change", (t) => state.group = t.value);
  on("fold", "change", (t) => {
    state.fold = t.checked;
    state.open.clear();
  });
  on("zoom-in", "click", () => state.zoom = Math.min(64, state.zoom * 1.6));
  on("zoom-out", "click", () => state.zoom = Math.max(1, state.zoom / 1.6));
  on("zoom-fit", "click", () => state.zoom = 1);
  on("event-filters", "change", (t) => {
    const name = t.dataset.eventFilter ?? "";
    if (t.checked) state.hidden.delete(name);
    else state.hidden.add(name);
  });
  byId("timeline").addEventListener("wheel", (e) => {
    if (!e.ctrlKey) return;
    e.preventDefault();
    state.zoom = Math.max(1, Math.min(64, state.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
    render(page);
  }, { passive: false });
  byId("timeline").addEventListener("click", (e) => clicked(page, e.target));
  addEventListener("resize", () => render(page));
}

/** A click keeps a bar's or a mark's details; a click on a folded group opens it. */
function clicked(page: Page, target: El): void {
  const group = target.closest("[data-group]");
  if (group) {
    const g = group.dataset.group ?? "";
    if (page.state.open.has(g)) page.state.open.delete(g);
    else page.state.open.add(g);
    return render(page);
  }
  const item = target.closest(".bar, .mark, .attempt, .fault-active");
  const box = byId("details");
  if (!item) {
    box.hidden = true;
    return;
  }
  box.textContent = item.querySelector("title")?.textContent ?? "";
  box.hidden = false;
}

function visibleVms(page: Page): string[] {
  const { filter, group } = page.state;
  const matcher = filter && /[*?]/.test(filter) ? globToRegExp(filter) : null;
  return page.vmOrder.filter((vm) =>
    (!group || groupsOfVm(page, vm).includes(group)) &&
    (!filter || (matcher ? matcher.test(vm) : vm.includes(filter)))
  );
}

/** Rows: a VM each, or (folded) a group each unless that group was opened. */
function rows(page: Page): Row[] {
  const vms = visibleVms(page);
  const one = (vm: string): Row => ({ label: vm, vms: [vm], kind: "vm" });
  if (!page.state.fold) return vms.map(one);
  const byGroup = new Map<string, string[]>();
  for (const vm of vms) {
    const g = groupsOfVm(page, vm)[0]!;
    byGroup.set(g, [...(byGroup.get(g) ?? []), vm]);
  }
  return [...byGroup].flatMap(([group, members]): Row[] =>
    page.state.open.has(group)
      ? [{ label: "▾ " + group, vms: [], kind: "group", group }, ...members.map(one)]
      : [{ label: "▸ " + group + " (" + members.length + ")", vms: members, kind: "group", group }]
  );
}

/** Draw the timeline for the reader's current view. */
function render(page: Page): void {
  const host = byId("timeline");
  const width = Math.max(400, (host.clientWidth || 1200) - LABEL - 24) * page.state.zoom;
  const x = (ms: number) => LABEL + (Math.max(0, ms) / page.duration) * width;
  const list = rows(page);
  const shown = new Set(visibleVms(page));
  const probes = probeRows(page, shown).length;
  const below = TOP + STEPS + list.length * LANE;
  const height = below + probes * LANE + 10;
  const parts = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="' + (LABEL + width + 20) + '" height="' +
    height + '" role="img" aria-label="timeline">',
    drawAxis(page, x, width, height),
    drawStepsLane(page, x, height),
    ...list.map((row, i) => drawLane(page, { row, y: TOP + STEPS + i * LANE, x }, width, i)),
    drawProbeLanes(page, shown, { row: { label: "", vms: [], kind: "vm" }, y: below, x }, width),
    "</svg>",
  ];
  host.innerHTML = parts.join("");
  document.body.dataset.rendered = "true";
  document.body.dataset.lanes = String(list.length);
  document.body.dataset.probeLanes = String(probes);
}

function drawAxis(page: Page, x: (ms: number) => number, width: number, height: number): string {
  const step = niceStep(page.duration / Math.max(2, width / 110));
  const parts = ['<g class="axis">'];
  for (let t = 0; t <= page.duration; t += step) {
    parts.push(
      '<line x1="' + x(t) + '" x2="' + x(t) + '" y1="' + (TOP - 6) + '" y2="' + height +
        '"/><text x="' + (x(t) + 3) + '" y="' + (TOP - 10) + '">' + fmt(t) + "</text>",
    );
  }
  return parts.join("") + "</g>";
}

/** The steps, in a lane of their own: where each began and ended, named where there is room. */
function drawStepsLane(page: Page, x: (ms: number) => number, height: number): string {
  const parts = ['<g class="steps-lane">'];
  for (const s of page.journal.steps) {
    if (!s.targets.some((t) => t.status !== "skipped")) continue;
    const worst = s.targets.reduce<Status>((a, t) => rank(t.status) > rank(a) ? t.status : a, "ok");
    const x0 = x(s.startMs), w = Math.max(2, x(s.endMs) - x0);
    const name = s.name.length * 6 > w
      ? s.name.slice(0, Math.max(1, Math.floor(w / 6) - 1)) + "…"
      : s.name;
    parts.push(
      '<g class="step-head" data-step="' + esc(s.name) + '"><rect x="' + x0 + '" y="' + (TOP + 3) +
        '" width="' + w + '" height="' + (STEPS - 8) + '" rx="3" fill="' + statusColor(worst) +
        '" opacity=".22"/><line x1="' + x0 + '" x2="' + x0 + '" y1="' + (TOP + STEPS) + '" y2="' +
        height + '" stroke="#c9ccd1" stroke-dasharray="2 4"/>' +
        (w > 40
          ? '<text x="' + (x0 + 4) + '" y="' + (TOP + 17) + '" clip-path="inset(0)">' + esc(name) +
            "</text>"
          : "") +
        "<title>" + esc(s.name + " — " + fmt(s.endMs - s.startMs) + " (" + s.action + ")") +
        "</title></g>",
    );
  }
  return parts.join("") + '<text class="lane-label" x="8" y="' + (TOP + 17) + '">steps</text></g>';
}

/** One lane: its label, measured windows, step bars and event marks. */
function drawLane(page: Page, lane: Lane, width: number, index: number): string {
  const { row, y } = lane;
  const label = row.label.length > 26 ? row.label.slice(0, 25) + "…" : row.label;
  const windows = drawWindows(page, lane);
  return '<g class="lane" data-lane="' + esc(row.kind === "vm" ? row.vms[0] : row.group) +
    '" data-kind="' + row.kind + '"><rect class="lane-bg" x="0" y="' + y + '" width="' +
    (LABEL + width + 20) + '" height="' + LANE + '" fill="' + (index % 2 ? "#fff" : "#fafbfc") +
    '"/><text class="lane-label' + (row.kind === "group" ? " group" : "") + '" x="8" y="' +
    (y + 15) + '"' + (row.kind === "group" ? ' data-group="' + esc(row.group) + '"' : "") + ">" +
    esc(label) + "<title>" + esc(row.label) + "</title></text>" + drawFaults(page, lane) +
    windows.shapes + page.journal.steps.map((s) => drawBar(s, lane)).join("") +
    drawMarks(page, lane) + drawViolations(page, lane) + drawScreens(page, lane) +
    windows.labels + "</g>";
}

/** Measured windows (duration metrics): fault to recovery; their labels go on top, last. */
function drawWindows(page: Page, { row, y, x }: Lane): { shapes: string; labels: string } {
  const members = new Set(row.vms);
  let shapes = "", labels = "";
  for (const m of page.journal.metrics) {
    for (const [vm, [a, b]] of Object.entries(m.spans ?? {})) {
      if (!members.has(vm)) continue;
      shapes += '<g class="fault-window" data-metric="' + esc(m.name) +
        '"><rect class="fault" x="' +
        x(a) + '" y="' + (y + 1) + '" width="' + Math.max(1, x(b) - x(a)) + '" height="' +
        (LANE - 2) + '"/></g>';
      if (row.kind !== "vm") continue;
      labels += '<text class="fault-label" x="' + (x(b) - x(a) > 110 ? x(a) + 4 : x(b) + 3) +
        '" y="' + (y + 15) + '">' + esc(m.name) + " " + fmt(m.values[vm] ?? b - a) + "</text>";
    }
  }
  return { shapes, labels };
}

/** A step's bar on a lane: its VM's, or the worst status of the group's VMs. */
function drawBar(s: StepRecord, { row, y, x }: Lane): string {
  const members = new Set(row.vms);
  const ts = s.targets.filter((t) => members.has(t.vm) && t.status !== undefined);
  if (!ts.length) return "";
  const worst = ts.reduce((a, t) => rank(t.status) > rank(a.status) ? t : a, ts[0]!);
  const start = least(ts, (t) => t.startMs ?? s.startMs, Infinity);
  const end = most(ts, (t) => t.endMs ?? s.endMs, -Infinity);
  const failed = ts.filter((t) => t.status !== "ok" && t.status !== "skipped").length;
  const tip = s.name + " — " +
    (row.kind === "vm"
      ? worst.status + (worst.allowed ? " (allowed)" : "")
      : ts.length + " VM(s), " + failed + " not ok") +
    " — " + fmt(end - start) + (worst.error ? "\n" + worst.error : "");
  return '<rect class="bar' + (worst.allowed ? " allowed" : "") + '" data-step="' + esc(s.name) +
    '" data-status="' + esc(worst.status) + '" x="' + x(start) + '" y="' + (y + 5) + '" width="' +
    Math.max(2, x(end) - x(start)) + '" height="' + (LANE - 10) + '" rx="2" fill="' +
    statusColor(worst.status) + '"><title>' + esc(tip) + "</title></rect>";
}

/** The lane's QMP events, as marks with their data on hover. */
function drawMarks(page: Page, { row, y, x }: Lane): string {
  const members = new Set(row.vms);
  let marks = "";
  for (const e of page.events) {
    if (!members.has(e.vm) || page.state.hidden.has(e.event)) continue;
    const cx = x(e.ms);
    const big = e.event === "GUEST_PANICKED" || e.event === "SHUTDOWN";
    const tip = e.event + " on " + e.vm + " at " + fmt(e.ms) +
      (e.data === undefined ? "" : "\n" + JSON.stringify(e.data, null, 1));
    marks += '<g class="mark" data-event="' + esc(e.event) + '" data-vm="' + esc(e.vm) +
      '"><line x1="' + cx + '" x2="' + cx + '" y1="' + (y + 2) + '" y2="' + (y + LANE - 2) +
      '" stroke="' + eventColor(e.event) + '"/><circle cx="' + cx + '" cy="' + (y + 4) + '" r="' +
      (big ? 4.5 : 3) + '" fill="' + eventColor(e.event) +
      '" stroke="#fff" stroke-width="1"/><title>' + esc(tip) + "</title></g>";
  }
  return marks;
}

/** The page's start: count script errors (tests read them), read the data, draw, listen. */
function reportMain(): void {
  let errors = 0;
  addEventListener("error", () => document.body.dataset.errors = String(++errors));
  const data = JSON.parse(byId("data").textContent ?? "{}") as PageData;
  const page = openPage(data);
  drawMeta(page);
  drawMetrics(page);
  drawDrill(page);
  drawControls(page);
  listen(page);
  render(page);
}

const FUNCTIONS = [
  ...BASE_FUNCTIONS,
  ...DRILL_FUNCTIONS,
  openPage,
  groupsOfVm,
  drawMeta,
  drawMetrics,
  drawControls,
  listen,
  clicked,
  visibleVms,
  rows,
  render,
  drawAxis,
  drawStepsLane,
  drawLane,
  drawWindows,
  drawBar,
  drawMarks,
  reportMain,
];

/** The page's script: these functions as JavaScript, and a call of `reportMain`. */
export function pageScript(): string {
  const constants = `const LABEL = ${LABEL}, LANE = ${LANE}, TOP = ${TOP}, STEPS = ${STEPS};`;
  return `(() => {\n"use strict";\n${constants}\n${FUNCTIONS.join("\n")}\nreportMain();\n})();`;
}
