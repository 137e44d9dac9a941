import { defineAction } from "./action.ts";
import { defined, opt, withDefault } from "./options.ts";
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

/** `console: { wait | send | exec, expect, fail-on, prompt }`: the serial console. */
export default defineAction({
  key: "console",
  summary: "the serial console: wait for a line, send text, or exec a line and wait for expect",
  options: {
    wait: opt.pattern("a line to wait for"),
    send: opt.template("text to type"),
    exec: opt.template("a line to type; done at its echo or at expect"),
    expect: opt.pattern("the line that ends an exec (default: its echo)"),
    "fail-on": withDefault(opt.patterns("lines that fail the step at once"), []),
    prompt: withDefault(opt.bool("match the line being printed before its end of line"), false),
  },
  shape: { exactlyOne: MODES },
  build(values, tools, nodes): ConsoleAction | undefined {
    const mode = MODES.find((m) => nodes.has(m))!;
    if (values.expect !== undefined && mode !== "exec") {
      return tools.issue(nodes.get("expect")!.key, "expect goes with exec");
    }
    return defined({
      kind: "console" as const,
      mode,
      wait: values.wait,
      text: values.send ?? values.exec,
      expect: values.expect,
      failOn: values["fail-on"],
      prompt: values.prompt,
    });
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
