import { defineAction } from "./action.ts";
import type { ActionData, Step } from "../model.ts";

/** A block's data: its steps, and what runs when they fail and always. */
export interface BlockAction extends ActionData {
  kind: "block";
  steps: readonly Step[];
  rescue: readonly Step[];
  always: readonly Step[];
}

/**
 * `block: [steps]` with `rescue` and `always`: try / catch / finally for a
 * group of steps. The runner runs the children; this file reads them.
 */
export default defineAction<BlockAction>({
  key: "block",
  summary: "run these steps; rescue runs on the VMs where they failed, always runs on all",
  schema: { type: "array", items: { $ref: "#/$defs/step" } },
  parse(tools, { node, step, stepNode }) {
    const steps = tools.steps(node, "block");
    if (steps.length === 0) tools.issue(stepNode, "block has no steps");
    const children = (key: "rescue" | "always") =>
      step.has(key) ? tools.steps(step.get(key)!.value, key) : [];
    return { kind: "block", steps, rescue: children("rescue"), always: children("always") };
  },
  stepKeys: ["rescue", "always", "serial"],
  children: (action) => [action.steps, action.rescue, action.always],
  mutates: (action) => [...action.steps, ...action.rescue, ...action.always].some((s) => s.mutates),
  run() {
    return Promise.reject(new Error("a block runs through the runner"));
  },
});

/** Whether `action` is a block. */
export function isBlock(action: ActionData): action is BlockAction {
  return action.kind === "block";
}
