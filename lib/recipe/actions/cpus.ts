import { addCpus } from "../../vm/grow.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { waitInGuest } from "./_agent_wait.ts";

/**
 * `cpus: { add: N }`: N CPUs hot-plugged into the room the spec's
 * `maxcpus` left; with `online: true` (the default) a guest with an agent
 * brings them online at once, as udev would. Not undone.
 */
export default defineAction({
  key: "cpus",
  summary:
    "hot-plug add: N CPUs (room from the spec's maxcpus); online in the guest through its agent",
  options: {
    add: required(opt.integer(1, 255, "a whole number of CPUs from 1")),
    online: opt.bool("bring them online in the guest through its agent (default: when it has one)"),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (action, vm) =>
    (vm.spec?.maxcpus ?? 0) >= (vm.spec?.cpus ?? 1) + action.add
      ? undefined
      : `it has no room for ${action.add} more CPU(s): give it maxcpus (now ${
        vm.spec?.maxcpus ?? "unset"
      }, cpus ${vm.spec?.cpus ?? 1})`,
  async run(action, context) {
    const { vm, timeout, signal } = context;
    const cpus = await addCpus(vm, action.add, { timeout, signal });
    if (action.online === false || (action.online === undefined && !vm.hasAgent)) return { cpus };
    // The guest learns of the CPU from ACPI a moment after QEMU added it: online it once it shows.
    const count = "grep -c ^processor /proc/cpuinfo";
    const online = await waitInGuest(
      context,
      "for f in /sys/devices/system/cpu/cpu[0-9]*/online; do " +
        `[ "$(cat $f)" = 1 ] || echo 1 > $f; done; [ $(${count}) -ge ${cpus} ] && ${count}`,
      (result) =>
        result.exitCode === 0
          ? { done: true, output: Number(result.stdout.trim()) }
          : { notYet: "the guest does not show the new CPUs yet" },
      100,
    );
    return { cpus, online };
  },
});
