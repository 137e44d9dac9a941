import { defineAction } from "./action.ts";
import { defined, opt, withDefault } from "./options.ts";
import { overlayFile } from "../../vm/storage.ts";
import { diskUnfit } from "./_storage.ts";
import type { ActionData, Template } from "../model.ts";

const OPS = ["save", "load", "delete", "external"] as const;

interface Snapshot extends ActionData {
  kind: "snapshot";
  op: typeof OPS[number];
  tag: Template;
  freeze: "auto" | boolean;
  /** With `external`: the disk (default: the first writable one). */
  disk?: string;
}

/**
 * `snapshot: { save | load | delete: TAG, freeze: auto }`: an internal
 * snapshot of the VM's state and qcow2 disks, run as a QEMU job whose own
 * error (a duplicate tag) fails the step; the guest's file systems are
 * frozen through its agent for a save and thawed after a load.
 * `snapshot: { external: NAME, disk }` puts a new overlay on the disk
 * instead (`DISK-NAME.qcow2` beside its image, or NAME as a path when it
 * has a `/`): the guest's writes go there until `commit`.
 */
export default defineAction({
  key: "snapshot",
  summary:
    "save, load or delete an internal snapshot (state and qcow2 disks); freeze: auto freezes through the agent",
  options: {
    save: opt.template("save the state under this tag"),
    load: opt.template("go back to the state saved under this tag"),
    delete: opt.template("delete the snapshot with this tag"),
    external: opt.template(
      "a new overlay on the disk takes the writes: DISK-NAME.qcow2 beside its image, or a path",
    ),
    disk: opt.string("with external: the disk (default: the first writable one)"),
    freeze: withDefault(
      opt.custom<"auto" | boolean>(
        { enum: ["auto", true, false] },
        (tools, node, key) => tools.json(node, key) === "auto" ? "auto" : tools.bool(node, key),
      ),
      "auto",
    ),
  },
  shape: { exactlyOne: OPS },
  build(values, tools, nodes): Snapshot | undefined {
    const op = OPS.find((o) => nodes.has(o))!;
    if (values.disk !== undefined && op !== "external") {
      return tools.issue(
        nodes.get("disk")!.value,
        "disk goes with external (internal snapshots take every disk)",
      );
    }
    return defined({
      kind: "snapshot" as const,
      op,
      tag: values[op]!,
      freeze: values.freeze,
      disk: values.disk,
    });
  },
  mutates: (action) => action.op !== "save",
  unfit: (action, vm) => action.op === "external" ? diskUnfit(action.disk, vm) : undefined,
  async run(action, { vm, timeout, signal, render }) {
    const tag = render(action.tag);
    if (action.op === "external") {
      return await vm.snapshotDisk({
        disk: action.disk,
        file: await overlayFile(vm, action.disk, tag),
        timeout,
        signal,
      });
    }
    const options = { freeze: action.freeze, timeout, signal };
    const result = action.op === "save"
      ? await vm.saveSnapshot(tag, options)
      : action.op === "load"
      ? await vm.loadSnapshot(tag, options)
      : await vm.deleteSnapshot(tag, options);
    return { tag: result.tag, devices: result.devices, frozen: result.frozen };
  },
});
