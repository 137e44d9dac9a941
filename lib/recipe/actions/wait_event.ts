import { defineAction, DURATION_SCHEMA } from "./_action.ts";
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
export default defineAction<WaitEvent>({
  key: "wait-event",
  summary: "wait for a QMP event whose data contains match (since the previous step began)",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["event"],
    properties: {
      event: { type: "string", pattern: "^[A-Z0-9_]+$" },
      match: { type: "object" },
      timeout: DURATION_SCHEMA,
    },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "wait-event");
    if (!options) return undefined;
    tools.keys(options, ["event", "match", "timeout"], "wait-event");
    const event = tools.string(tools.required(options, "event", node), "event");
    if (event === undefined) return undefined;
    if (event !== event.toUpperCase()) {
      tools.issue(
        options.get("event")!.value,
        `QMP event names are upper case: ${event.toUpperCase()}`,
      );
    }
    const action: WaitEvent = { kind: "wait-event", event };
    const matchNode = options.get("match")?.value;
    if (matchNode !== undefined) {
      const match = tools.json(matchNode, "match");
      if (match === null || typeof match !== "object" || Array.isArray(match)) {
        tools.issue(matchNode, "match must be a mapping of the event's data members");
      } else action.match = match as Record<string, unknown>;
    }
    const timeoutNode = options.get("timeout")?.value;
    if (timeoutNode !== undefined) action.timeout = tools.duration(timeoutNode, "timeout");
    return action;
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
