import { launchedDiskIds } from "../../vm/spec.ts";
import { defineAction } from "./action.ts";
import { opt } from "./options.ts";

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
    iops: opt.integer(1, undefined, "a whole number of operations per second"),
    bps: opt.bytesPerSecond("bytes per second: 1M, 512K, or a number"),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec && launchedDiskIds(vm.spec).length
      ? undefined
      : "it has no disk (give it disks: [{ size: 64M }])",
  async run(action, { vm, timeout, signal, hold }) {
    const disk = await vm.throttleDisk({ ...action, timeout, signal });
    hold(disk);
    return { disk, iops: action.iops, bps: action.bps };
  },
  async undo(_action, { vm, held, timeout, signal }) {
    if (typeof held === "string") await vm.throttleDisk({ disk: held, timeout, signal });
  },
});
