import { defineAction } from "./action.ts";

/**
 * `stall: {}`: the targets' QEMU processes are stopped (SIGSTOP), as a hung
 * host is: the guest freezes and QMP stops answering (`liveness` says
 * `wedged`). Healed by itself (SIGCONT); a SIGKILL of corral still kills
 * a stalled QEMU.
 */
export default defineAction({
  key: "stall",
  summary: "stop the targets' QEMU processes (SIGSTOP) as a hung host; healed by itself (SIGCONT)",
  options: {},
  mutates: () => true,
  requires: () => "launched",
  run(_action, { vm, hold }) {
    vm.signalProcess("SIGSTOP");
    hold(true);
    return Promise.resolve({ pid: vm.pid });
  },
  undo(_action, { vm, held }) {
    if (held && vm.exitStatus === undefined) vm.signalProcess("SIGCONT");
    return Promise.resolve();
  },
});
