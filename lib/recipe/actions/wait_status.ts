import { ConnectionClosedError, TimeoutError } from "../../errors.ts";
import { delay } from "../../_async.ts";
import { formatMs } from "../../_text.ts";
import { didYouMean } from "../../_suggest.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import type { ActionData } from "../model.ts";

interface WaitStatus extends ActionData {
  kind: "wait-status";
  status: readonly string[];
}

/** QEMU's run states (`query-status`). */
export const RUN_STATES = [
  "debug",
  "inmigrate",
  "internal-error",
  "io-error",
  "paused",
  "postmigrate",
  "prelaunch",
  "finish-migrate",
  "restore-vm",
  "running",
  "save-vm",
  "shutdown",
  "suspended",
  "watchdog",
  "guest-panicked",
  "colo",
] as const;

/** How often the run state is polled: QEMU sends no event for every state. */
const POLL_MS = 50;

/** `wait-status: { status }`: poll `query-status` until the run state is one of these. */
export default defineAction({
  key: "wait-status",
  summary: "poll query-status until the run state is one of these",
  options: {
    status: required(opt.custom<string[]>({
      anyOf: [{ $ref: "#/$defs/runState" }, {
        type: "array",
        items: { $ref: "#/$defs/runState" },
      }],
    }, (tools, node) => {
      const statuses = tools.list(node).map((item) => {
        const status = tools.string(item, "status");
        if (status === undefined || (RUN_STATES as readonly string[]).includes(status)) {
          return status;
        }
        return tools.issue(
          item,
          `'${status}' is not a QEMU run state${didYouMean(status, RUN_STATES)}`,
        );
      });
      return statuses.every((s) => s !== undefined) ? statuses : undefined;
    })),
  },
  mutates: () => false,
  async run(action, { vm, timeout, signal }) {
    const end = performance.now() + timeout;
    let last = "not known yet";
    for (let left = timeout; left > 0; left = end - performance.now()) {
      try {
        last = (await vm.status({ timeout: left, signal })).status;
      } catch (error) {
        if (error instanceof TimeoutError) {
          last += " (query-status got no answer)";
          break;
        }
        if (!(error instanceof ConnectionClosedError)) throw error;
        last = "gone (QEMU exited)";
      }
      if (action.status.includes(last)) return last;
      await delay(Math.min(POLL_MS, Math.max(0, end - performance.now())), { signal });
    }
    throw new TimeoutError(
      `the run state is ${last}, not ${action.status.join(" or ")}, after ${formatMs(timeout)}`,
      { vm: vm.name, timeout },
    );
  },
});
