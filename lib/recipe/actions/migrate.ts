import type { Node } from "yaml";
import { defineAction, DURATION_SCHEMA, type ParseTools } from "./_action.ts";
import type { ActionData, Template } from "../model.ts";

interface Migrate extends ActionData {
  kind: "migrate";
  /** The new QEMU instance's name; default the VM's with -m1, -m2, … */
  to?: Template;
  /** The SSH host to move to (a name from hosts); default: where it runs. */
  host?: string;
  mode: "precopy" | "postcopy";
  postcopyAfter?: number;
  /** Bytes per second. */
  maxBandwidth?: number;
  downtimeLimit?: number;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)$/i;
const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * `migrate: { to, mode, postcopy-after, max-bandwidth, downtime-limit }`:
 * live-migrate the VM to a new QEMU started from its spec; the recipe's VM
 * then is the destination (later steps, console, agent and reports follow
 * it) and the old QEMU is stopped. Its output has the migration's figures
 * (`downtimeMs`, `totalTimeMs`, …) for metrics.
 */
export default defineAction<Migrate>({
  key: "migrate",
  summary:
    "live-migrate the VM to a new QEMU from its spec (to: its name); the VM then runs there, the old one stops",
  schema: {
    type: ["object", "null"],
    additionalProperties: false,
    properties: {
      to: { type: "string", description: "the new instance's name; default NAME-m1, NAME-m2, …" },
      host: { type: "string", description: "the SSH host to move to; default: where it runs" },
      mode: { enum: ["precopy", "postcopy"] },
      "postcopy-after": DURATION_SCHEMA,
      "max-bandwidth": {
        description: "bytes per second: 1G, 500M, or a number (default 1G)",
        anyOf: [{ type: "string", pattern: SIZE.source }, { type: "number", minimum: 1 }],
      },
      "downtime-limit": DURATION_SCHEMA,
    },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "migrate", true);
    const keys = ["to", "host", "mode", "postcopy-after", "max-bandwidth", "downtime-limit"];
    if (options) tools.keys(options, keys, "migrate");
    const get = (key: string) => options?.get(key)?.value;
    const action: Migrate = { kind: "migrate", mode: "precopy" };
    if (get("to") !== undefined) action.to = tools.template(get("to"));
    if (get("host") !== undefined) action.host = tools.string(get("host"), "host");
    if (get("mode") !== undefined) {
      action.mode = tools.oneOf(get("mode"), "mode", ["precopy", "postcopy"]) ?? "precopy";
    }
    if (get("postcopy-after") !== undefined) {
      if (action.mode !== "postcopy") {
        tools.issue(get("postcopy-after"), "postcopy-after needs mode: postcopy");
      }
      action.postcopyAfter = tools.duration(get("postcopy-after"), "postcopy-after");
    }
    if (get("max-bandwidth") !== undefined) {
      action.maxBandwidth = bytesPerSecond(tools, get("max-bandwidth")!);
    }
    if (get("downtime-limit") !== undefined) {
      action.downtimeLimit = tools.duration(get("downtime-limit"), "downtime-limit");
    }
    return action;
  },
  mutates: () => true,
  requires: () => "launched",
  async run(action, { vm, timeout, signal, render, replaced }) {
    const moved = await vm.migrate({
      instance: action.to ? render(action.to) : undefined,
      changes: action.host === undefined ? undefined : { host: action.host },
      mode: action.mode,
      postcopyAfter: action.postcopyAfter,
      maxBandwidth: action.maxBandwidth,
      downtimeLimit: action.downtimeLimit,
      timeout,
      signal,
    });
    replaced();
    return moved;
  },
});

function bytesPerSecond(tools: ParseTools, node: Node): number | undefined {
  const value = tools.json(node, "max-bandwidth");
  const match = typeof value === "string" ? SIZE.exec(value.trim()) : null;
  const bytes = typeof value === "number"
    ? value
    : match
    ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]!
    : NaN;
  if (Number.isFinite(bytes) && bytes >= 1) return Math.round(bytes);
  return tools.issue(
    node,
    `max-bandwidth must be bytes per second like 1G or 500M, not ${JSON.stringify(value)}`,
  );
}
