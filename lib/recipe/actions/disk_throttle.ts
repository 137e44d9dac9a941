import type { Node } from "yaml";
import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
import type { ParseTools } from "./parse_tools.ts";

const SIZE = /^(\d+(?:\.\d+)?)\s*([KMG]?)$/i;
const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** Bytes per second: `1M`, `512K`, or a number. */
function bytes(tools: ParseTools, node: Node | null, key: string): number | undefined {
  const value = tools.json(node, key);
  const match = typeof value === "number" ? [, String(value), ""] : SIZE.exec(String(value).trim());
  const n = match ? Number(match[1]) * UNITS[match[2]!.toUpperCase()]! : NaN;
  return n >= 1
    ? Math.round(n)
    : tools.issue(node, `${key} must be bytes per second like 1M or 512K`);
}

/**
 * `disk-throttle: { disk, iops, bps }`: the targets' disk gets slow (QEMU's
 * I/O throttling) until healed, by itself, at the end of its block, before
 * `finally`, or by `heal`.
 */
export default defineAction({
  key: "disk-throttle",
  summary: "make a disk slow (iops, bps: QEMU's I/O throttling) until healed, by itself",
  options: {
    disk: opt.string("disk0, disk1, … (default: the first writable disk)"),
    iops: opt.custom<number>({ type: "integer", minimum: 1 }, (tools, node, key) => {
      const n = tools.json(node, key);
      return Number.isInteger(n) && (n as number) >= 1
        ? n as number
        : tools.issue(node, `${key} must be a whole number of operations per second`);
    }),
    bps: opt.custom<number>(
      { anyOf: [{ type: "string", pattern: SIZE.source }, { type: "number", minimum: 1 }] },
      bytes,
    ),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.disks?.length ? undefined : "it has no disk (give it disks: [{ size: 64M }])",
  async run(action, { vm, timeout, signal, hold }) {
    const disk = await vm.throttleDisk({ ...action, timeout, signal });
    hold(disk);
    return { disk, iops: action.iops, bps: action.bps };
  },
  async undo(_action, { vm, held, timeout, signal }) {
    if (typeof held === "string") await vm.throttleDisk({ disk: held, timeout, signal });
  },
});
