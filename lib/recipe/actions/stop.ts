import { defineAction } from "./action.ts";
import { opt, withDefault } from "./options.ts";
import type { ActionData } from "../model.ts";

interface Stop extends ActionData {
  kind: "stop";
  /** ms the guest may take to power off after the ACPI power button. */
  grace: number;
}

/** `stop: { grace }`: power button, grace, quit, SIGTERM, SIGKILL. Launched VMs only. */
export default defineAction({
  key: "stop",
  summary: "stop the VM's QEMU: power button, grace (default 5s), quit, SIGTERM, SIGKILL",
  options: {
    grace: withDefault(opt.duration("how long the guest may take to power off (default 5s)"), 5000),
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
