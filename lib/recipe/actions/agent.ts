import { StepFailure } from "../../errors.ts";
import { defineAction } from "./action.ts";
import { opt, required, withDefault } from "./options.ts";
import { type ActionData, matchesPattern, type Pattern, type Template } from "../model.ts";

interface Agent extends ActionData {
  kind: "agent";
  /** The command, run with /bin/sh -c in the guest. */
  exec: Template;
  /** What its standard output must contain. */
  expect?: Pattern;
  /** The exit code it must end with (default 0). */
  exitCode: number;
}

/** `agent: { exec, expect, exit-code }`: run a command in the guest through its agent. */
export default defineAction({
  key: "agent",
  summary:
    "run a command in the guest through its agent; expect matches its output, exit-code its exit (0)",
  options: {
    exec: required(opt.template("the command, run with /bin/sh -c in the guest")),
    expect: opt.pattern("what its standard output must contain"),
    "exit-code": withDefault(
      opt.json<number>(
        { type: "integer" },
        (value) => Number.isInteger(value) ? undefined : "exit-code must be a whole number",
      ),
      0,
    ),
  },
  mutates: () => true,
  requires: () => "agent",
  async run(action, { vm, timeout, signal, render }) {
    const command = render(action.exec);
    const result = await vm.agent.exec(command, { timeout, signal });
    const matches = matchesPattern(action.expect, result.stdout);
    if (result.exitCode !== action.exitCode || !matches) {
      throw new StepFailure(
        `${JSON.stringify(command)} exited ${result.exitCode}` +
          (result.exitCode !== action.exitCode ? ` (expected ${action.exitCode})` : "") +
          (matches ? "" : `; its output does not match ${String(action.expect)}`) +
          `; stdout: ${JSON.stringify(result.stdout.slice(-200))}, stderr: ${
            JSON.stringify(result.stderr.slice(-200))
          }`,
        { vm: vm.name },
      );
    }
    return result;
  },
});
