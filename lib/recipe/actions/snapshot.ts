import { defineAction } from "./action.ts";
import { opt, withDefault } from "./options.ts";
import type { ActionData, Template } from "../model.ts";

const OPS = ["save", "load", "delete"] as const;

interface Snapshot extends ActionData {
  kind: "snapshot";
  op: typeof OPS[number];
  tag: Template;
  freeze: "auto" | boolean;
}

/**
 * `snapshot: { save | load | delete: TAG, freeze: auto }`: an internal
 * snapshot of the VM's state and qcow2 disks, run as a QEMU job whose own
 * error (a duplicate tag) fails the step; the guest's file systems are
 * frozen through its agent for a save and thawed after a load.
 */
export default defineAction({
  key: "snapshot",
  summary:
    "save, load or delete an internal snapshot (state and qcow2 disks); freeze: auto freezes through the agent",
  options: {
    save: opt.template("save the state under this tag"),
    load: opt.template("go back to the state saved under this tag"),
    delete: opt.template("delete the snapshot with this tag"),
    freeze: withDefault(
      opt.custom<"auto" | boolean>(
        { enum: ["auto", true, false] },
        (tools, node, key) => tools.json(node, key) === "auto" ? "auto" : tools.bool(node, key),
      ),
      "auto",
    ),
  },
  shape: { exactlyOne: OPS },
  build(values, _tools, nodes): Snapshot {
    const op = OPS.find((o) => nodes.has(o))!;
    return { kind: "snapshot", op, tag: values[op]!, freeze: values.freeze };
  },
  mutates: (action) => action.op !== "save",
  async run(action, { vm, timeout, signal, render }) {
    const tag = render(action.tag);
    const options = { freeze: action.freeze, timeout, signal };
    const result = action.op === "save"
      ? await vm.saveSnapshot(tag, options)
      : action.op === "load"
      ? await vm.loadSnapshot(tag, options)
      : await vm.deleteSnapshot(tag, options);
    return { tag: result.tag, devices: result.devices, frozen: result.frozen };
  },
});
