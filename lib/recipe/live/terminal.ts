/**
 * A run told as terminal lines: the run's head, each VM brought up, a
 * line per step and per VM that ended it, batches, undos, the verdict.
 * Control characters from guests and peers are made visible; with
 * `color`, passes are green, failures red, step heads bold.
 *
 * @module
 */

import { paintLine, printable } from "../../_text.ts";
import { showDuration } from "../duration.ts";
import type { RunEvent, RunListener } from "../run_events.ts";

/**
 * A listener that writes the run as lines.
 *
 * @example
 * ```ts
 * import { terminalLines } from "./terminal.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const listen = terminalLines((line) => lines.push(line));
 * listen({ type: "verdict", verdict: "pass", reason: "every step passed" });
 * assert.deepEqual(lines, ["verdict pass: every step passed"]);
 * ```
 */
export function terminalLines(write: (line: string) => void, color = false): RunListener {
  return (event) => {
    for (const line of linesOf(event)) {
      const text = printable(line);
      write(color ? paintLine(text) : text);
    }
  };
}

/** The lines an event is told in (none for some). */
export function linesOf(event: RunEvent): string[] {
  switch (event.type) {
    case "run-start":
      return [
        `recipe ${event.recipe}: seed ${event.seed}, ${event.vms} VM(s), forks ${event.forks}`,
        ...(event.shortSecrets > 0
          ? [
            `note: ${event.shortSecrets} secret value(s) are shorter than 3 characters: ` +
            `masking them masks ordinary text too`,
          ]
          : []),
      ];
    case "vm-up":
      return [
        `  ${event.vm}: ${
          event.attached
            ? "attached"
            : `${event.restored ? `restored from checkpoint '${event.restored}'` : "launched"} ` +
              `(pid ${event.pid})`
        }`,
      ];
    case "vm-lost":
      return [`  ${event.vm}: could not be ${event.how}: ${event.error}`];
    case "step-start":
      return [`▶ ${event.step}${stepWhere(event)}`];
    case "batch":
      return [`  batch ${event.index}/${event.of}: ${event.vms.join(", ")}`];
    case "batches-stopped":
      return [
        `  ${event.failures} failure(s) in batch ${event.index} exceed max-failures ` +
        `${event.allowed}: the remaining batches are skipped`,
      ];
    case "vm-done":
      return [vmDone(event)];
    case "undone":
      return [
        `↺ ${event.record.name}`,
        ...event.record.targets.map((t) =>
          t.status === "ok" ? `  ✓ ${t.vm}` : `  ✗ ${t.vm}: ${t.error}`
        ),
      ];
    case "problem":
      return [event.reason];
    case "verdict":
      return [`verdict ${event.verdict}: ${event.reason}`];
    default:
      return [];
  }
}

function stepWhere(event: Extract<RunEvent, { type: "step-start" }>): string {
  if (event.skipped) return ` (skipped: ${event.skipped})`;
  return event.targets.length ? ` on ${event.targets.join(", ")}` : " (no VM)";
}

function vmDone(event: Extract<RunEvent, { type: "vm-done" }>): string {
  if (event.status !== "ok") return `  ✗ ${event.vm}: ${event.error}`;
  const attempt = (event.attempt ?? 1) > 1 ? ` (attempt ${event.attempt})` : "";
  return `  ✓ ${event.vm} ${showDuration(event.ms)}${attempt}${
    event.note ? ` — ${event.note}` : ""
  }`;
}
