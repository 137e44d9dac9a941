import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { diskUnfit } from "./_storage.ts";

/**
 * `block-move: { disk, to }`: the disk moves to the new qcow2 file `to`
 * while the guest runs (QEMU mirrors it, then switches the guest over), as
 * `virsh blockcopy --pivot` does; later migrations take it from there.
 */
export default defineAction({
  key: "block-move",
  summary: "move a disk to a new qcow2 file while the guest runs (mirror, then switch)",
  options: {
    disk: opt.string("the disk (default: the first writable one)"),
    to: required(opt.template("the new file (it must not exist); relative to the current folder")),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (action, vm) => diskUnfit(action.disk, vm),
  run: async (action, { vm, timeout, signal, render }) =>
    await vm.moveDisk({ disk: action.disk, to: render(action.to), timeout, signal }),
});
