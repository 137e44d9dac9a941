import { defineAction } from "./action.ts";
import type { ActionData, Template } from "../model.ts";

interface Type extends ActionData {
  kind: "type";
  text: Template;
}

/** `type: "text\n"`: type text on the VM's keyboard, as a US keyboard would (`\n` is Enter). */
export default defineAction<Type>({
  key: "type",
  summary: "type text on the VM's keyboard (a US layout; \\n is Enter)",
  schema: { type: "string" },
  parse(tools, { node }) {
    const text = tools.template(node);
    return text ? { kind: "type", text } : undefined;
  },
  mutates: () => true,
  requires: () => "launched",
  async run(action, { vm, timeout, signal, render }) {
    const text = render(action.text);
    await vm.typeText(text, { timeout, signal });
    return { typed: text.length };
  },
});
