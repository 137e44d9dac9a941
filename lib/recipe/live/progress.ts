/**
 * A run as progress events for a live display (`corral run` on a
 * terminal): a step starts on its targets, each VM finishes it, the step
 * ends. Blocks are told through their children.
 *
 * @module
 */

import { printable } from "../../_text.ts";
import type { RunListener } from "../run_events.ts";
import type { ProgressEvent } from "../run_options.ts";

/**
 * A listener that tells `progress` what it needs.
 *
 * @example
 * ```ts
 * import { progressEvents } from "./progress.ts";
 * import type { ProgressEvent } from "../run_options.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: ProgressEvent[] = [];
 * const listen = progressEvents((event) => seen.push(event));
 * listen({ type: "step-end", step: "s", batch: "", path: "steps[0]", targets: [], block: false, ms: 1 });
 * assert.deepEqual(seen, [{ type: "step-end", step: "s" }]);
 * ```
 */
export function progressEvents(progress: (event: ProgressEvent) => void): RunListener {
  return (event) => {
    if (event.type === "step-start" && !event.block) {
      progress({ type: "step-start", step: event.step + event.batch, targets: event.targets });
    } else if (event.type === "vm-done") {
      progress({
        type: "vm-done",
        step: event.step + event.batch,
        vm: event.vm,
        status: event.status,
        ms: event.ms,
        ...(event.status === "ok" ? {} : { error: printable(event.error ?? "") }),
      });
    } else if (event.type === "step-end" && !event.block) {
      progress({ type: "step-end", step: event.step + event.batch });
    }
  };
}
