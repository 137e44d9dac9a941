/**
 * The drill parts of `report.html`'s script: each fault's window shaded on
 * its VMs' lanes (from the fault step to its heal), a lane of attempts per
 * probe, invariant violations marked where they happened and listed, and
 * links to the lab networks' captures. Embedded as JavaScript like the rest
 * (see `_report_page.ts`).
 *
 * @module
 */

import type { StepRecord } from "./journal.ts";
import { byId, esc, fmt, LABEL, LANE, type Lane, type Page } from "./_report_base.ts";

/** A fault's window on one VM. */
interface FaultWindow {
  name: string;
  action: string;
  from: number;
  to: number;
}

/** Each fault's window on `vm`: from its step to its heal (`undo`), or to the run's end. */
function faultWindows(page: Page, vm: string): FaultWindow[] {
  const heals = new Map<string, StepRecord>();
  for (const s of page.journal.steps) {
    if (s.path.endsWith(".undo")) heals.set(s.path.slice(0, -5), s);
  }
  const windows: FaultWindow[] = [];
  for (const s of page.journal.steps) {
    const heal = heals.get(s.path);
    const hit = s.targets.find((t) => t.vm === vm && t.status === "ok");
    if (!heal || !hit) continue;
    const healed = heal.targets.find((t) => t.vm === vm);
    windows.push({
      name: s.name,
      action: s.action,
      from: hit.endMs ?? s.endMs,
      to: healed ? healed.startMs ?? heal.startMs : page.duration,
    });
  }
  return windows;
}

/** A VM lane's fault windows, under its bars. */
export function drawFaults(page: Page, { row, y, x }: Lane): string {
  let shapes = "";
  for (const vm of row.vms) {
    for (const w of faultWindows(page, vm)) {
      shapes += '<rect class="fault-active" data-fault="' + esc(w.name) + '" data-vm="' +
        esc(vm) + '" x="' + x(w.from) + '" y="' + (y + 1) + '" width="' +
        Math.max(1, x(w.to) - x(w.from)) + '" height="' + (LANE - 2) + '"><title>' +
        esc(
          w.action + " on " + vm + ": " + w.name + ", " + fmt(w.from) + " – " + fmt(w.to) +
            " (" + fmt(w.to - w.from) + ")",
        ) + "</title></rect>";
    }
  }
  return shapes;
}

/** A lane's invariant violations, as marks on top. */
export function drawViolations(page: Page, { row, y, x }: Lane): string {
  const members = new Set(row.vms);
  let marks = "";
  for (const v of page.journal.violations ?? []) {
    if (!members.has(v.vm) || v.ms === undefined) continue;
    const cx = x(v.ms);
    marks += '<g class="violation mark" data-rule="' + esc(v.rule) + '" data-vm="' + esc(v.vm) +
      '"><path d="M' + (cx - 6) + " " + (y + LANE - 3) + " L" + cx + " " + (y + 3) + " L" +
      (cx + 6) + " " + (y + LANE - 3) + ' Z"/><title>' +
      esc("violation: " + v.rule + " on " + v.vm + " at " + fmt(v.ms) + "\n" + v.what) +
      "</title></g>";
  }
  return marks;
}

/** Every screenshot of the run: a screenshot step's, or one taken when a step failed. */
function screens(page: Page): { vm: string; ms: number; file: string; step: string }[] {
  const found: { vm: string; ms: number; file: string; step: string }[] = [];
  for (const s of page.journal.steps) {
    for (const t of s.targets) {
      const file = t.screenshot ?? (t.output as { screenshot?: string } | undefined)?.screenshot;
      if (typeof file === "string") {
        found.push({ vm: t.vm, ms: t.endMs ?? s.endMs, file, step: s.name });
      }
    }
  }
  return found;
}

/** A lane's screenshots: a mark at their moment, linking the picture. */
export function drawScreens(page: Page, { row, y, x }: Lane): string {
  const members = new Set(row.vms);
  return screens(page).filter((shot) => members.has(shot.vm)).map((shot) =>
    '<a class="screen" href="' + esc(shot.file) + '" target="_blank"><rect x="' +
    (x(shot.ms) - 5) + '" y="' + (y + 6) + '" width="10" height="' + (LANE - 12) +
    '" rx="2"/><title>' + esc(
      "screenshot of " + shot.vm + " at " + fmt(shot.ms) + " (" +
        shot.step + "): " + shot.file,
    ) + "</title></a>"
  ).join("");
}

/** The probes whose VM is shown. */
export function probeRows(page: Page, shown: Set<string>): NonNullable<Page["journal"]["probes"]> {
  return (page.journal.probes ?? []).filter((p) => shown.has(p.vm));
}

/** A lane per probe under the VMs' lanes: each attempt a tick, green or red. */
export function drawProbeLanes(page: Page, shown: Set<string>, lane: Lane, width: number): string {
  const { x } = lane;
  return probeRows(page, shown).map((probe, i) => {
    const y = lane.y + i * LANE;
    const failed = probe.attempts.filter((a) => !a.ok).length;
    let ticks = "";
    for (const a of probe.attempts) {
      ticks += '<rect class="attempt ' + (a.ok ? "ok" : "failed") + '" x="' + x(a.startMs) +
        '" y="' + (y + 6) + '" width="' + Math.max(1.5, x(a.endMs) - x(a.startMs)) +
        '" height="' + (LANE - 12) + '"><title>' +
        esc(
          "probe " + probe.name + " on " + probe.vm + " at " + fmt(a.startMs) + ": " +
            (a.ok ? "ok" : "failed" + (a.error ? "\n" + a.error : "")),
        ) + "</title></rect>";
    }
    return '<g class="probe-lane" data-probe="' + esc(probe.name) + '" data-vm="' +
      esc(probe.vm) + '"><rect x="0" y="' + y + '" width="' + (LABEL + width + 20) +
      '" height="' + LANE + '" fill="#f4f7fb"/><text class="lane-label" x="8" y="' + (y + 15) +
      '">' + esc("◇ " + probe.name + " on " + probe.vm) + "<title>" +
      esc(probe.attempts.length + " attempt(s), " + failed + " failed") + "</title></text>" +
      ticks + "</g>";
  }).join("");
}

/** Under the metrics: the violations, each with its time, and the captures, linked. */
export function drawDrill(page: Page): void {
  const { journal } = page;
  const violations = journal.violations ?? [];
  const captures = journal.captures ?? [];
  let html = "";
  if (violations.length) {
    html += "<h2>Invariant violations</h2><ul>" + violations.map((v) =>
      "<li class=bad>" + esc(v.rule) + " on <b>" + esc(v.vm) + "</b>" +
      (v.ms === undefined ? "" : " at " + fmt(v.ms)) + ": " + esc(v.what) + "</li>"
    ).join("") + "</ul>";
  }
  if (captures.length) {
    html += "<p>Captures: " + captures.map((c) =>
      '<a href="' + encodeURIComponent(c) + '" download>' + esc(c) + "</a>"
    ).join(", ") + " (pcap: Wireshark, tcpdump -r)</p>";
  }
  const shots = screens(page);
  if (shots.length) {
    html += "<p>Screenshots: " + shots.map((shot) =>
      '<a href="' + esc(shot.file) + '" target="_blank">' + esc(shot.vm + " · " + shot.step) +
      "</a>"
    ).join(", ") + "</p>";
  }
  byId("drill").innerHTML = html;
}

/** These functions, for the page's script. */
export const DRILL_FUNCTIONS = [
  faultWindows,
  drawFaults,
  drawViolations,
  probeRows,
  drawProbeLanes,
  drawDrill,
  screens,
  drawScreens,
];
