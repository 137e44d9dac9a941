import { defineAction } from "./action.ts";
import { opt, required, withDefault } from "./options.ts";
import { waitInGuest } from "./_agent_wait.ts";

/** `wait-until: { exec, every }`: run a command in the guest until it succeeds (exit 0). */
export default defineAction({
  key: "wait-until",
  summary: "run a command in the guest (agent) every DUR until it exits 0",
  options: {
    exec: required(opt.template("the command, run with /bin/sh -c in the guest")),
    every: withDefault(opt.duration("how often to try (default 500ms)"), 500),
  },
  mutates: () => false,
  requires: () => "agent",
  run(action, context) {
    const command = context.render(action.exec);
    return waitInGuest(
      context,
      command,
      (r) =>
        r.exitCode === 0
          ? { done: true, output: r }
          : { notYet: `exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(-200)}` },
      action.every,
    );
  },
});
