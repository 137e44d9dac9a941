import { defineAction } from "./_action.ts";
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
export default defineAction<Backup>({
  key: "backup",
  summary:
    "back up a disk while the guest runs into a new qcow2 file: full, or incremental over the previous one",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["to"],
    properties: {
      to: { type: "string", description: "a new file; ${{ vm.name }} makes one per VM" },
      disk: { type: "string", description: "disk0, disk1, … (default: the first writable disk)" },
      sync: { enum: ["full", "incremental"] },
    },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "backup");
    if (!options) return undefined;
    tools.keys(options, ["to", "disk", "sync"], "backup");
    const to = tools.template(tools.required(options, "to", node));
    const diskNode = options.get("disk")?.value;
    const syncNode = options.get("sync")?.value;
    const sync = syncNode === undefined
      ? "full"
      : tools.oneOf(syncNode, "sync", ["full", "incremental"]);
    if (!to || !sync) return undefined;
    const action: Backup = { kind: "backup", to, sync };
    if (diskNode !== undefined) action.disk = tools.string(diskNode, "disk");
    return action;
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
