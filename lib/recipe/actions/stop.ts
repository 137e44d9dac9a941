import { defineAction, DURATION_SCHEMA } from "./_action.ts";
import type { ActionData } from "../model.ts";

interface Stop extends ActionData {
  kind: "stop";
  /** ms the guest may take to power off after the ACPI power button. */
  grace: number;
}

/** `stop: { grace }`: power button, grace, quit, SIGTERM, SIGKILL. Launched VMs only. */
export default defineAction<Stop>({
  key: "stop",
  summary: "stop the VM's QEMU: power button, grace (default 5s), quit, SIGTERM, SIGKILL",
  schema: {
    type: ["object", "null"],
    additionalProperties: false,
    properties: { grace: DURATION_SCHEMA },
  },
  parse(tools, { node }) {
    const options = tools.map(node, "stop", true);
    if (options) tools.keys(options, ["grace"], "stop");
    const graceNode = options?.get("grace")?.value;
    const grace = graceNode === undefined ? 5000 : tools.duration(graceNode, "grace");
    return grace === undefined ? undefined : { kind: "stop", grace };
  },
  mutates: () => true,
  requires: () => "launched",
  async run(action, { vm, signal }) {
    const status = await vm.shutdown({ grace: action.grace, signal });
    if (!status) return undefined;
    const how = vm.stoppedHow;
    // A guest that ignored the power button is worth saying: it was forced off.
    const note = action.grace > 0 && how !== "powered-off" && how !== "exited"
      ? `the guest did not power off within ${action.grace} ms: ${
        how === "quit" ? "QEMU quit" : how
      }`
      : how === "powered-off"
      ? "the guest powered off"
      : undefined;
    return { code: status.code, how, ...(note ? { note } : {}) };
  },
});
