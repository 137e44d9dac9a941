import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import type { ActionData, Template } from "../model.ts";

interface Backup extends ActionData {
  kind: "backup";
  to: Template;
  disk?: string;
  sync?: "full" | "incremental";
}

/**
 * `backup: { disk, to, sync: full | incremental }`: back up a disk while
 * the guest runs. `to` a `.qcow2` file: a new file (an incremental one
 * holds what changed since the previous backup of this run, over it as its
 * backing file). `to` a folder: a backup set that lasts across runs (see
 * `backupSet`): incremental over its last backup when the chain holds,
 * else full, saying why.
 */
export default defineAction({
  key: "backup",
  summary:
    "back up a disk while the guest runs into a new qcow2 file: full, or incremental over the previous one",
  options: {
    to: required(
      opt.template("a new .qcow2 file, or a folder that keeps a backup set across runs"),
    ),
    disk: opt.string("disk0, disk1, … (default: the first writable disk)"),
    sync: opt.oneOf(
      ["full", "incremental"] as const,
      "full (the default for a file) or incremental (the default for a set folder)",
    ),
  },
  mutates: () => false,
  async run(action, { vm, timeout, signal, render }) {
    const to = render(action.to);
    if (!to.endsWith(".qcow2")) {
      // A set goes on incrementally unless told to start again.
      return await vm.backupSet({ dir: to, disk: action.disk, sync: action.sync, timeout, signal });
    }
    const done = await vm.backup({
      to,
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
