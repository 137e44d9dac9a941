import { StepFailure } from "../../errors.ts";
import { parseDuration } from "../duration.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

const OFFSET = /^([+-])\s*(.+)$/;

/**
 * `clock: { offset: "+5m" }`: the targets' guest clocks jump by `offset`
 * (through the guest agent's `guest-set-time`); healed by itself, setting
 * them back to the host's time. The host's clock is never touched.
 */
export default defineAction({
  key: "clock",
  summary:
    "make the targets' guest clocks jump by offset (+5m, -1h) through the agent; healed by itself (back to the host's time)",
  options: {
    offset: required(opt.custom<number>(
      { type: "string", pattern: "^[+-]", description: "+5m, -30s, +1h" },
      (tools, node, key) => {
        const text = String(tools.json(node, key)).trim();
        const match = OFFSET.exec(text);
        const ms = match ? parseDuration(match[2]!.trim()) : undefined;
        if (match && ms !== undefined) return match[1] === "-" ? -ms : ms;
        return tools.issue(node, `${key} must be signed, like +5m or -30s`);
      },
    )),
  },
  mutates: () => true,
  requires: () => "agent",
  async run(action, { vm, timeout, signal, hold }) {
    hold(true);
    const to = Date.now() + action.offset;
    await vm.agent.setTime(to, { timeout, signal });
    const now = await vm.agent.time({ timeout, signal });
    // The guest's own reading: what the drill's checks will see.
    if (Math.abs(now - to) > 60_000) {
      throw new StepFailure(
        `the guest's clock reads ${new Date(now).toISOString()} after the jump`,
        {
          vm: vm.name,
        },
      );
    }
    return { guestTime: new Date(now).toISOString(), offsetMs: action.offset };
  },
  async undo(_action, { vm, held, timeout, signal }) {
    if (held) await vm.agent.setTime(Date.now(), { timeout, signal });
  },
});
