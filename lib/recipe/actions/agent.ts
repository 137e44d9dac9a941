import { StepFailure } from "../../errors.ts";
import { defineAction, PATTERN_SCHEMA } from "./_action.ts";
import type { ActionData, Pattern, Template } from "../model.ts";

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
export default defineAction<Agent>({
  key: "agent",
  summary:
    "run a command in the guest through its agent; expect matches its output, exit-code its exit (0)",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["exec"],
    properties: {
      exec: { type: "string" },
      expect: PATTERN_SCHEMA,
      "exit-code": { type: "integer" },
    },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "agent");
    if (!options) return undefined;
    tools.keys(options, ["exec", "expect", "exit-code"], "agent");
    const exec = tools.template(tools.required(options, "exec", node));
    if (!exec) return undefined;
    const action: Agent = { kind: "agent", exec, exitCode: 0 };
    const expect = options.get("expect")?.value;
    if (expect !== undefined) action.expect = tools.pattern(expect, "expect");
    const code = options.get("exit-code")?.value;
    if (code !== undefined) {
      const value = tools.json(code, "exit-code");
      if (Number.isInteger(value)) action.exitCode = value as number;
      else tools.issue(code, "exit-code must be a whole number");
    }
    return action;
  },
  mutates: () => true,
  requires: () => "agent",
  async run(action, { vm, timeout, signal, render }) {
    const command = render(action.exec);
    const result = await vm.agent.exec(command, { timeout, signal });
    const matches = action.expect === undefined
      ? true
      : typeof action.expect === "string"
      ? result.stdout.includes(action.expect)
      : action.expect.test(result.stdout);
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
