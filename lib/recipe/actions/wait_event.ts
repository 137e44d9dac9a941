import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import type { EventName } from "../../vm/vm.ts";
import type { ActionData } from "../model.ts";

interface WaitEvent extends ActionData {
  kind: "wait-event";
  event: string;
  match?: Record<string, unknown>;
  timeout?: number;
}

/**
 * `wait-event: { event, match, timeout }`: an event whose data contains
 * `match`, counting every event since the start of the previous step on the VM.
 */
export default defineAction({
  key: "wait-event",
  summary: "wait for a QMP event whose data contains match (since the previous step began)",
  options: {
    event: required(opt.custom({ type: "string", pattern: "^[A-Z0-9_]+$" }, (tools, node, key) => {
      const event = tools.string(node, key);
      if (event !== undefined && event !== event.toUpperCase()) {
        tools.issue(node, `QMP event names are upper case: ${event.toUpperCase()}`);
      }
      return event;
    })),
    match: opt.json<Record<string, unknown>>(
      { type: "object" },
      (value) =>
        value === null || typeof value !== "object" || Array.isArray(value)
          ? "match must be a mapping of the event's data members"
          : undefined,
    ),
    timeout: opt.duration(),
  },
  mutates: () => false,
  ownTimeout: (action) => action.timeout,
  async run(action, { vm, timeout, signal, since, renderValue }) {
    const event = await vm.waitFor(action.event as EventName, {
      match: renderValue(action.match) as Record<string, never> | undefined,
      since: since.events,
      timeout: Math.min(action.timeout ?? timeout, timeout),
      signal,
    });
    return { event: event.event, data: event.data, timestamp: event.timestamp };
  },
});
