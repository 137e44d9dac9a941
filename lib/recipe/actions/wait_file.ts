import { shellWord } from "../../_text.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { waitInGuest } from "./_agent_wait.ts";

/** `wait-file: { path }`: wait until a file exists in the guest (through its agent). */
export default defineAction({
  key: "wait-file",
  summary: "wait until a path exists in the guest (agent)",
  options: { path: required(opt.template("the path in the guest")) },
  mutates: () => false,
  requires: () => "agent",
  run(action, context) {
    const path = context.render(action.path);
    return waitInGuest(
      context,
      `test -e ${shellWord(path)}`,
      (r) => r.exitCode === 0 ? { done: true, output: { path } } : { notYet: `no ${path}` },
    );
  },
});
