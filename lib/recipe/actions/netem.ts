import type { Node } from "yaml";
import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
import type { ParseTools } from "./parse_tools.ts";
import { notSwitched, undoHeld } from "./_faults.ts";

const RATE = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$/i;
/** Bytes per second of one unit. */
const RATE_UNITS: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1000 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  bps: 1,
  kbps: 1000,
  mbps: 1e6,
  gbps: 1e9,
};

/** A rate: `1mbit`, `100kbit`, `10mbps` (bytes), as bytes per second. */
function rate(tools: ParseTools, node: Node | null, key: string): number | undefined {
  const match = RATE.exec(String(tools.json(node, key)).trim());
  const bytes = match ? Number(match[1]) * RATE_UNITS[match[2]!.toLowerCase()]! : NaN;
  return bytes > 0 ? bytes : tools.issue(node, `${key} must be a rate like 1mbit or 500kbit`);
}

/**
 * `netem: { delay, jitter, loss, duplicate, corrupt, reorder, rate, network }`:
 * the targets' outgoing frames are delayed, lost, duplicated, corrupted,
 * reordered or slowed at corral's switch, as netem would do on their
 * interface (which this kernel may not have). Healed by itself.
 */
export default defineAction({
  key: "netem",
  summary:
    "delay, lose, duplicate, corrupt, reorder or slow the targets' outgoing frames at corral's switch (healed by itself)",
  options: {
    delay: opt.duration("added latency"),
    jitter: opt.duration("latency varies by up to this much either way"),
    loss: opt.percent(),
    duplicate: opt.percent(),
    corrupt: opt.percent(),
    reorder: opt.percent(),
    rate: opt.custom<number>(
      { type: "string", pattern: RATE.source, description: "1mbit, 500kbit, 10mbps" },
      rate,
    ),
    network: opt.string("only this network (default: every network the VM is on)"),
  },
  mutates: () => true,
  unfit: (action, vm, recipe) =>
    notSwitched(vm, recipe) ??
      (action.network !== undefined && !vm.networks.some((n) => n.name === action.network)
        ? `it is not on network '${action.network}'`
        : undefined),
  run(action, { vm, lab, hold }) {
    const { network, ...spec } = action;
    const switches = (lab.networks?.switchesOf(vm.name) ?? [])
      .filter((sw) => network === undefined || sw.name === network);
    hold(switches.map((sw) => sw.impair(vm.name, spec)));
    return Promise.resolve({ networks: switches.map((sw) => sw.name) });
  },
  undo: (_action, { held }) => undoHeld(held),
});
