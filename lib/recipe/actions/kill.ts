import { simpleAction } from "./action.ts";

/** `kill: {}`: SIGKILL the VM's QEMU, like pulling the power cord. Launched VMs only. */
export default simpleAction(
  "kill",
  "SIGKILL the VM's QEMU, like a power cut (VMs corral launched)",
  async (vm, options) => ({ signal: (await vm.kill(options)).signal }),
  "launched",
);
