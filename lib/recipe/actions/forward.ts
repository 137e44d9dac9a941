import { defineAction } from "./action.ts";
import { noHostlink, PORT_OPTIONS } from "./_hostlink.ts";

/**
 * `forward: { port }`: a loopback port of this machine reaches the guest's
 * `port` for the rest of the run (through the VM's host link);
 * `${{ vms.NAME.forward.PORT }}` is `127.0.0.1:HOSTPORT` in later steps and
 * probes.
 */
export default defineAction({
  key: "forward",
  summary: "a loopback port here reaches the guest's port for the rest of the run " +
    "(${{ vms.NAME.forward.PORT }})",
  options: PORT_OPTIONS,
  mutates: () => false,
  requires: () => "launched",
  unfit: (_action, vm) => noHostlink(vm),
  async run(action, { vm, timeout, signal }) {
    const port = await vm.forward(action.port, { timeout, signal });
    return { port: action.port, host: `127.0.0.1:${port}` };
  },
});
