import { PANIC_POLICIES, type PanicPolicy } from "../../vm/launch.ts";
import { defineAction } from "./action.ts";
import type { ActionData } from "../model.ts";

interface PanicAction extends ActionData {
  kind: "panic-action";
  policy: PanicPolicy;
}

/** `panic-action: pause`: what QEMU does on a guest panic, set at run time. */
export default defineAction<PanicAction>({
  key: "panic-action",
  summary: "what QEMU does on a guest panic, set at run time (set-action)",
  schema: { enum: [...PANIC_POLICIES] },
  parse(tools, { node }) {
    const policy = tools.oneOf(node, "panic-action", PANIC_POLICIES);
    return policy === undefined ? undefined : { kind: "panic-action", policy };
  },
  mutates: () => true,
  run: (action, { vm, timeout, signal }) => vm.setPanicAction(action.policy, { timeout, signal }),
});
