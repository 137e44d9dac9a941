import { launchedDiskIds } from "../../vm/spec.ts";
import { resizeDisk } from "../../vm/grow.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `resize-disk: { disk, size }`: a disk grows to `size` while the guest
 * runs (QEMU's `block_resize`); the guest's driver sees the new size. Not
 * undone: maintenance, not a fault. A smaller size is refused.
 */
export default defineAction({
  key: "resize-disk",
  summary: "grow a disk to size while the guest runs (block_resize); the guest sees the new size",
  options: {
    disk: opt.string("the disk's name (default: the first writable disk)"),
    size: required(opt.bytes("its new size: 64M, 2G")),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (action, vm) => {
    const ids = vm.spec ? launchedDiskIds(vm.spec) : [];
    if (!ids.length) return "it has no disk (give it disks: [{ name: data, size: 64M }])";
    return action.disk === undefined || ids.includes(action.disk)
      ? undefined
      : `it has no disk '${action.disk}' (its disks: ${ids.join(", ")})`;
  },
  run: async (action, { vm, timeout, signal }) =>
    await resizeDisk(vm, action.disk, action.size, { timeout, signal }),
});
