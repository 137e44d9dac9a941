import { defineAction } from "./action.ts";

/** `wait-agent: {}`: wait until the guest agent answers (after a boot or a reboot). */
export default defineAction({
  key: "wait-agent",
  summary: "wait until the guest agent answers (after a boot or a reboot)",
  options: {},
  mutates: () => false,
  requires: () => "agent",
  run: (_action, { vm, timeout, signal }) => vm.agent.waitReady({ timeout, signal }),
});
