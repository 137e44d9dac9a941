import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
import { diskUnfit } from "./_storage.ts";

/**
 * `commit: { disk }`: the disk's external snapshot (`snapshot: { external }`)
 * goes back into the image below it while the guest runs, which then takes
 * the writes again (`virsh blockcommit --active --pivot`).
 */
export default defineAction({
  key: "commit",
  summary: "commit a disk's external snapshot into the image below it, live, and switch back",
  options: { disk: opt.string("the disk (default: the first writable one)") },
  mutates: () => true,
  requires: () => "launched",
  unfit: (action, vm) => diskUnfit(action.disk, vm),
  run: async (action, { vm, timeout, signal }) =>
    await vm.commitDisk({ disk: action.disk, timeout, signal }),
});
