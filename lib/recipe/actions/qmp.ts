import { StepFailure } from "../../errors.ts";
import { subsetMatch } from "../../qmp/match.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
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
export default defineAction({
  key: "qmp",
  summary: "any QMP command; expect is a subset match on its return",
  options: {
    execute: required(opt.string()),
    arguments: opt.json({ type: "object" }),
    expect: opt.json({}),
  },
  mutates: (action) => !action.execute.startsWith("query-"),
  async checkLive(action, vm) {
    // Templated arguments are known only when the step runs.
    if (JSON.stringify(action.arguments ?? null).includes('"$template"')) return [];
    const { major, minor, micro } = vm.qemuVersion;
    const args = action.arguments as Record<string, unknown> | undefined;
    return (await vm.schema()).check(action.execute, args).map((problem) =>
      `${problem} (QEMU ${major}.${minor}.${micro})`
    );
  },
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
