import { defineAction, NO_OPTIONS, noOptions } from "./_action.ts";

/** `wait-agent: {}`: wait until the guest agent answers (after a boot or a reboot). */
export default defineAction({
  key: "wait-agent",
  summary: "wait until the guest agent answers (after a boot or a reboot)",
  schema: NO_OPTIONS,
  parse: (tools, { node }) => noOptions(tools, node, "wait-agent"),
  mutates: () => false,
  requires: () => "agent",
  run: (_action, { vm, timeout, signal }) => vm.agent.waitReady({ timeout, signal }),
});
