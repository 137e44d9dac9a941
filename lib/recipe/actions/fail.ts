import { StepFailure } from "../../errors.ts";
import { defineAction } from "./action.ts";
import type { ActionData, Template } from "../model.ts";

interface Fail extends ActionData {
  kind: "fail";
  message: Template;
}

/** `fail: message`: fail the targets on purpose. */
export default defineAction<Fail>({
  key: "fail",
  summary: "fail the targets on purpose with this message (${{ vm.name }} allowed)",
  schema: { type: "string" },
  parse(tools, { node }) {
    const message = tools.template(node);
    return message ? { kind: "fail", message } : undefined;
  },
  mutates: () => false,
  run(action, { vm, render }) {
    throw new StepFailure(render(action.message), { vm: vm.name });
  },
});
