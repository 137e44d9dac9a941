import { simpleAction } from "./action.ts";

/** `reset: {}`: reboot, and continue a VM QEMU leaves in prelaunch. */
export default simpleAction(
  "reset",
  "reboot (system_reset, then cont when QEMU leaves the VM in prelaunch, as after a panic)",
  (vm, options) => vm.reset(options),
);
