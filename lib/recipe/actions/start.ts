import { defineAction } from "./action.ts";

/** `start: {}`: start a launched VM's QEMU again after it exited; nothing if it runs. */
export default defineAction({
  key: "start",
  summary: "start the VM's QEMU again after it exited (VMs corral launched); nothing if it runs",
  options: {},
  mutates: () => true,
  requires: () => "launched",
  async run(_action, { vm, timeout, signal }) {
    if (vm.exitStatus === undefined && vm.connected) return undefined;
    await vm.relaunch({ timeout, signal });
    return undefined;
  },
});
