import { resizeDisk } from "../../vm/grow.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { diskUnfit } from "./_storage.ts";

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
  unfit: (action, vm) => diskUnfit(action.disk, vm),
  run: async (action, { vm, timeout, signal }) =>
    await resizeDisk(vm, action.disk, action.size, { timeout, signal }),
});
