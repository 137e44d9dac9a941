import { defineAction, NO_OPTIONS, noOptions } from "./_action.ts";

/** `start: {}`: start a launched VM's QEMU again after it exited; nothing if it runs. */
export default defineAction({
  key: "start",
  summary: "start the VM's QEMU again after it exited (VMs corral launched); nothing if it runs",
  schema: NO_OPTIONS,
  parse: (tools, { node }) => noOptions(tools, node, "start"),
  mutates: () => true,
  requires: () => "launched",
  async run(_action, { vm, signal, restarted }) {
    if (vm.exitStatus === undefined && vm.connected) return undefined;
    await vm.relaunch({ signal });
    restarted();
    return undefined;
  },
});
