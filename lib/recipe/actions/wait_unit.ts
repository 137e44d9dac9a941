import { shellWord } from "../../_text.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { waitInGuest } from "./_agent_wait.ts";

/**
 * `wait-unit: { unit }`: wait until a systemd unit is active; a unit that
 * failed fails the step at once, with its status and last journal lines.
 */
export default defineAction({
  key: "wait-unit",
  summary:
    "wait until a systemd unit is active (agent); fails at once, with its journal, if it failed",
  options: { unit: required(opt.template("the unit: nginx, ssh.service, …")) },
  mutates: () => false,
  requires: () => "agent",
  run(action, context) {
    const name = context.render(action.unit);
    const unit = shellWord(name);
    // One round trip: the state, and when it failed, what systemd knows of why.
    const command = `state=$(systemctl is-active ${unit}); echo "$state"; ` +
      `[ "$state" = failed ] && systemctl status --no-pager --lines=15 ${unit} 2>&1; true`;
    return waitInGuest(context, command, (r) => {
      const [state = "", ...status] = r.stdout.split("\n");
      if (state === "active") return { done: true, output: { unit: name, state } };
      if (state === "failed") {
        return { failed: `unit ${name} failed:\n${status.join("\n").trim()}` };
      }
      return { notYet: `unit ${name} is ${state || "unknown"}` };
    });
  },
});
