import { addMemory } from "../../vm/grow.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { waitInGuest } from "./_agent_wait.ts";

/**
 * `memory: { add: SIZE }`: a DIMM of SIZE hot-plugged into a free slot (the
 * spec's `slots`, within `maxmem`); with `online: true` (the default) a
 * guest with an agent brings its memory online at once, as udev would. Not
 * undone.
 */
export default defineAction({
  key: "memory",
  summary: "hot-plug add: SIZE of memory as a DIMM (slots in the spec); online through the agent",
  options: {
    add: required(opt.bytes("the DIMM's size: 128M, 1G")),
    online: opt.bool("bring it online in the guest through its agent (default: when it has one)"),
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.slots ? undefined : "it has no memory slot: give it slots (and maxmem) in its spec",
  async run(action, context) {
    const { vm, timeout, signal } = context;
    const online = action.online ?? vm.hasAgent;
    const total = "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo";
    const before = online ? Number((await vm.agent.exec(total, { timeout, signal })).stdout) : 0;
    const bytes = await addMemory(vm, action.add, { timeout, signal });
    if (!online) return { bytes };
    // The guest learns of the DIMM from ACPI a moment after QEMU added it: online it once it shows.
    const want = before + action.add / 1024;
    const guestKiB = await waitInGuest(
      context,
      "for f in /sys/devices/system/memory/memory*/state; do " +
        `[ "$(cat $f)" = online ] || echo online > $f; done; [ $(${total}) -ge ${want} ] && ${total}`,
      (result) =>
        result.exitCode === 0
          ? { done: true, output: Number(result.stdout.trim()) }
          : { notYet: "the guest does not show the new memory yet" },
      100,
    );
    return { bytes, guestKiB };
  },
});
