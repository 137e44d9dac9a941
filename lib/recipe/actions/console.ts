import { defineAction, PATTERN_SCHEMA } from "./_action.ts";
import type { ActionData, Pattern, Template } from "../model.ts";

interface ConsoleAction extends ActionData {
  kind: "console";
  /** Wait for a line, type text, or type a line and wait for its echo or `expect`. */
  mode: "wait" | "send" | "exec";
  /** What to wait for (wait). */
  wait?: Pattern;
  /** What to type (send, exec). */
  text?: Template;
  /** The line that ends an exec (default: its echo). */
  expect?: Pattern;
  /** Lines that fail the step at once. */
  failOn: readonly Pattern[];
  /** Match the line being printed before its end of line (prompts). */
  prompt: boolean;
}

const MODES = ["wait", "send", "exec"] as const;
const patterns = { anyOf: [PATTERN_SCHEMA, { type: "array", items: PATTERN_SCHEMA }] };

/** `console: { wait | send | exec, expect, fail-on, prompt }`: the serial console. */
export default defineAction<ConsoleAction>({
  key: "console",
  summary: "the serial console: wait for a line, send text, or exec a line and wait for expect",
  schema: {
    type: "object",
    additionalProperties: false,
    properties: {
      wait: PATTERN_SCHEMA,
      send: { type: "string" },
      exec: { type: "string" },
      expect: PATTERN_SCHEMA,
      "fail-on": patterns,
      prompt: { type: "boolean" },
    },
    oneOf: MODES.map((mode) => ({ required: [mode] })),
  },
  parse(tools, { node }) {
    const options = tools.map(node, "console");
    if (!options) return undefined;
    tools.keys(options, [...MODES, "fail-on", "expect", "prompt"], "console");
    const modes = MODES.filter((mode) => options.has(mode));
    if (modes.length !== 1) {
      return tools.issue(
        node,
        `console takes exactly one of wait, send or exec${
          modes.length ? `, not ${modes.join(" and ")}` : ""
        }`,
      );
    }
    const mode = modes[0]!;
    const value = options.get(mode)!.value;
    const promptNode = options.get("prompt")?.value;
    const action: ConsoleAction = {
      kind: "console",
      mode,
      failOn: tools.list(options.get("fail-on")?.value).map((item) =>
        tools.pattern(item, "fail-on")
      ).filter((p) => p !== undefined),
      prompt: promptNode === undefined ? false : tools.bool(promptNode, "prompt") ?? false,
    };
    if (mode === "wait") action.wait = tools.pattern(value, "wait");
    else action.text = tools.template(value);
    if (options.has("expect")) {
      if (mode !== "exec") tools.issue(options.get("expect")!.key, "expect goes with exec");
      action.expect = tools.pattern(options.get("expect")!.value, "expect");
    }
    return action.wait ?? action.text ? action : undefined;
  },
  mutates: (action) => action.mode !== "wait",
  requires: () => "console",
  async run(action, { vm, timeout, signal, since, render }) {
    const options = { failOn: action.failOn, prompt: action.prompt, timeout, signal };
    if (action.mode === "wait") {
      return (await vm.console.waitFor(action.wait!, { since: since.console, ...options })).text;
    }
    if (action.mode === "send") {
      await vm.console.send(render(action.text!));
      return undefined;
    }
    return (await vm.console.exec(render(action.text!), { expect: action.expect, ...options }))
      .text;
  },
});
