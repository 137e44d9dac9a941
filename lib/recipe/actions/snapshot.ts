import { defineAction } from "./_action.ts";
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
export default defineAction<Snapshot>({
  key: "snapshot",
  summary:
    "save, load or delete an internal snapshot (state and qcow2 disks); freeze: auto freezes through the agent",
  schema: {
    type: "object",
    additionalProperties: false,
    properties: {
      save: { type: "string" },
      load: { type: "string" },
      delete: { type: "string" },
      freeze: { enum: ["auto", true, false] },
    },
    oneOf: OPS.map((op) => ({ required: [op] })),
  },
  parse(tools, { node }) {
    const options = tools.map(node, "snapshot");
    if (!options) return undefined;
    tools.keys(options, [...OPS, "freeze"], "snapshot");
    const ops = OPS.filter((op) => options.has(op));
    if (ops.length !== 1) {
      return tools.issue(
        node,
        `snapshot takes exactly one of save, load or delete${
          ops.length ? `, not ${ops.join(" and ")}` : ""
        }`,
      );
    }
    const op = ops[0]!;
    const tag = tools.template(options.get(op)!.value);
    const freezeNode = options.get("freeze")?.value;
    const freeze = freezeNode === undefined
      ? "auto"
      : tools.json(freezeNode, "freeze") === "auto"
      ? "auto"
      : tools.bool(freezeNode, "freeze");
    if (!tag || freeze === undefined) return undefined;
    return { kind: "snapshot", op, tag, freeze };
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
