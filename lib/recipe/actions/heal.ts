import { defineAction } from "./action.ts";

interface Heal {
  kind: "heal";
  /** The fault step (by id) whose faults go; all when absent. */
  step?: string;
}

/**
 * `heal: all` / `heal: { step: ID }`: undo the faults still on the targets
 * now — all of them, or those of one step — instead of at the end of their
 * block or before `finally`.
 */
export default defineAction<Heal>({
  key: "heal",
  summary: "undo the faults still on the targets now: all, or { step: ID }'s",
  schema: {
    anyOf: [{ const: "all" }, {
      type: "object",
      additionalProperties: false,
      required: ["step"],
      properties: { step: { type: "string", description: "the id of a fault step" } },
    }],
  },
  parse(tools, { node }) {
    if (tools.json(node, "heal") === "all") return { kind: "heal" };
    const options = tools.map(node, "heal");
    if (!options) return undefined;
    tools.keys(options, ["step"], "heal");
    const step = tools.string(tools.required(options, "step", node), "step");
    return step === undefined ? undefined : { kind: "heal", step };
  },
  mutates: () => true,
  validate: (action, { faults }) =>
    action.step === undefined || faults.includes(action.step)
      ? undefined
      : `heal names no fault step with id '${action.step}'${
        faults.length ? ` (the fault steps: ${faults.join(", ")})` : ""
      }`,
  async run(action, { heal }) {
    return { healed: await heal(action.step) };
  },
});
