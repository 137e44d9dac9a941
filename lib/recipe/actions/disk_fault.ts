import { launchedDiskIds } from "../../vm/spec.ts";
import { defineAction } from "./action.ts";
import { opt } from "./options.ts";

/**
 * `disk-fault: { disk, error, ops }`: the targets' disk fails the guest's
 * reads, writes or both with EIO or ENOSPC until healed, by itself, at the
 * end of its block, before `finally`, or by `heal`. QEMU reports each
 * failure as `BLOCK_IO_ERROR`; on ENOSPC its default policy pauses the VM,
 * and the heal continues it.
 */
export default defineAction({
  key: "disk-fault",
  summary: "make a disk fail the guest's I/O (error: eio | enospc, ops: read | write | all) " +
    "until healed, by itself",
  options: {
    disk: opt.string("the disk's name (disk0, disk1, … unless named; default: the first)"),
    error: opt.oneOf(["eio", "enospc"] as const, "the error the guest gets (default eio)"),
    ops: opt.oneOf(["read", "write", "all"] as const, "which requests fail (default all)"),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (action, vm) => {
    const ids = vm.spec ? launchedDiskIds(vm.spec) : [];
    if (ids.length === 0) return "it has no disk (give it disks: [{ name: data, size: 64M }])";
    return action.disk === undefined || ids.includes(action.disk)
      ? undefined
      : `it has no disk ${JSON.stringify(action.disk)} (its disks: ${ids.join(", ")})`;
  },
  async run(action, { vm, timeout, signal, hold }) {
    const disk = await vm.failDisk({ ...action, timeout, signal });
    hold(disk);
    return { disk, error: action.error ?? "eio", ops: action.ops ?? "all" };
  },
  async undo(_action, { vm, held, timeout, signal }) {
    if (typeof held === "string") await vm.healDisk(held, { timeout, signal });
  },
});
