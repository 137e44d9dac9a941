import type { CpuLimit } from "../../vm/cpu_limit.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `cpu-limit: { percent: N }`: the targets' QEMU runs only N % of each
 * 100 ms (stopped and continued in turn, as `cpulimit` does: no root, no
 * cgroups) until healed, by itself, at the end of its block, before
 * `finally`, or by `heal`. Only for VMs on this machine.
 */
export default defineAction({
  key: "cpu-limit",
  summary:
    "let the targets' QEMU run only percent % of a CPU (SIGSTOP/SIGCONT in turn) until healed",
  options: {
    percent: required(opt.integer(1, 99, "a whole percentage from 1 to 99")),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.host === undefined
      ? undefined
      : "it runs on another host (cpu-limit signals QEMU many times a second: only here)",
  run(action, { vm, hold }) {
    hold(vm.limitCpu(action.percent));
    return Promise.resolve({ percent: action.percent, pid: vm.pid });
  },
  undo(_action, { held }) {
    (held as CpuLimit | undefined)?.lift();
    return Promise.resolve();
  },
});
