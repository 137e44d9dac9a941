import { defineAction } from "./action.ts";
import { opt, required, withDefault } from "./options.ts";
import type { ActionData, Template } from "../model.ts";

interface Backup extends ActionData {
  kind: "backup";
  to: Template;
  disk?: string;
  sync: "full" | "incremental";
}

/**
 * `backup: { disk, to, sync: full | incremental }`: back up a disk while
 * the guest runs, into a new qcow2 file (an incremental one holds what
 * changed since the previous backup, over it as its backing file).
 */
export default defineAction({
  key: "backup",
  summary:
    "back up a disk while the guest runs into a new qcow2 file: full, or incremental over the previous one",
  options: {
    to: required(opt.template("a new file; ${{ vm.name }} makes one per VM")),
    disk: opt.string("disk0, disk1, … (default: the first writable disk)"),
    sync: withDefault(opt.oneOf(["full", "incremental"] as const), "full"),
  },
  mutates: () => false,
  async run(action, { vm, timeout, signal, render }) {
    const done = await vm.backup({
      to: render(action.to),
      disk: action.disk,
      sync: action.sync,
      timeout,
      signal,
    });
    return {
      file: done.file,
      disk: done.disk,
      sync: done.sync,
      base: done.base,
      bytes: done.bytes,
    };
  },
});
