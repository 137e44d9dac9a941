import { defineAction } from "./action.ts";
import type { ActionData } from "../model.ts";

interface Keys extends ActionData {
  kind: "keys";
  combo: string;
}

/** `keys: "ctrl-alt-delete"`: press keys together on the VM's keyboard (QEMU's key names). */
export default defineAction<Keys>({
  key: "keys",
  summary: "press keys together on the VM's keyboard: ctrl-alt-delete, ret, f1 (QEMU's names)",
  schema: { type: "string", pattern: "^[a-z0-9_]+(-[a-z0-9_]+)*$" },
  parse(tools, { node }) {
    const combo = tools.string(node, "keys");
    if (combo !== undefined && !/^[a-z0-9_]+(-[a-z0-9_]+)*$/.test(combo)) {
      return tools.issue(
        node,
        "keys are QEMU's key names joined with '-': ctrl-alt-delete, ret, f1",
      );
    }
    return combo === undefined ? undefined : { kind: "keys", combo };
  },
  mutates: () => true,
  requires: () => "launched",
  async run(action, { vm, timeout, signal }) {
    await vm.sendKeys(action.combo, { timeout, signal });
    return { keys: action.combo };
  },
});
