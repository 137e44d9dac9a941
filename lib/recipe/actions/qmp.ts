import { StepFailure } from "../../errors.ts";
import { subsetMatch } from "../../qmp/match.ts";
import { defineAction } from "./_action.ts";
import type { Vm } from "../../vm/vm.ts";
import type { ActionData } from "../model.ts";

/** The data of a `qmp` step. */
export interface Qmp extends ActionData {
  kind: "qmp";
  execute: string;
  arguments?: unknown;
  expect?: unknown;
}

/** `qmp: { execute, arguments, expect }`: any QMP command; `expect` is a subset match on its return. */
export default defineAction<Qmp>({
  key: "qmp",
  summary: "any QMP command; expect is a subset match on its return",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["execute"],
    properties: { execute: { type: "string" }, arguments: { type: "object" }, expect: {} },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "qmp");
    if (!options) return undefined;
    tools.keys(options, ["execute", "arguments", "expect"], "qmp");
    const execute = tools.string(tools.required(options, "execute", node), "execute");
    if (execute === undefined) return undefined;
    const action: Qmp = { kind: "qmp", execute };
    for (const key of ["arguments", "expect"] as const) {
      const value = options.get(key)?.value;
      if (value !== undefined) action[key] = tools.json(value, key);
    }
    return action;
  },
  mutates: (action) => !action.execute.startsWith("query-"),
  async run(action, { vm, timeout, signal, renderValue }) {
    const args = renderValue(action.arguments) as Record<string, unknown> | undefined;
    await requireSupport(vm, action.execute, Object.keys(args ?? {}));
    const output = await vm.executeUntyped(action.execute, args ?? undefined, { timeout, signal });
    const expect = renderValue(action.expect);
    if (expect !== undefined && !subsetMatch(output, expect)) {
      throw new StepFailure(
        `${action.execute} returned ${JSON.stringify(output)}, which does not contain ${
          JSON.stringify(expect)
        }`,
        { vm: vm.name },
      );
    }
    return output;
  },
});

/** Fail before sending when this VM's QEMU lacks the command or one of its arguments. */
async function requireSupport(vm: Vm, command: string, members: string[]): Promise<void> {
  const lacking = !await vm.supports(command)
    ? `has no command ${command}`
    : (await Promise.all(members.map(async (m) => await vm.supports(command, m) ? [] : [m]))).flat()
      .map((m) => `has no argument '${m}' for ${command}`)[0];
  if (lacking) {
    throw new StepFailure(`QEMU ${vm.qemuVersion.release} ${lacking}; nothing was sent`, {
      vm: vm.name,
    });
  }
}
