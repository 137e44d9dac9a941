import { defineAction } from "./action.ts";
import { opt, withDefault } from "./options.ts";
import { notSwitched, undoHeld } from "./_faults.ts";

/**
 * `partition: { from: SELECTOR, direction: both | in | out }`: the targets
 * exchange no frames with the VMs `from` selects (default: every other VM
 * of the lab), on every network they share — dropped at corral's switch.
 * Healed at the end of its block, before `finally`, on Ctrl-C, or by
 * `heal`.
 */
export default defineAction({
  key: "partition",
  summary:
    "cut the targets off from other VMs on every lab network they share (healed by itself: end of block, finally, heal)",
  options: {
    from: opt.string("the VMs cut off from the targets: a selector (default: every other VM)"),
    direction: withDefault(
      opt.oneOf(
        ["both", "in", "out"] as const,
        "in: frames to the targets are dropped; out: frames from them; both (default)",
      ),
      "both",
    ),
  },
  mutates: () => true,
  unfit: (_action, vm, recipe) => notSwitched(vm, recipe),
  run(action, { vm, lab, hold }) {
    const peers = lab.select(action.from ?? "all").filter((name) => name !== vm.name);
    const switches = lab.networks?.switchesOf(vm.name) ?? [];
    hold(switches.map((sw) => sw.block(vm.name, peers, action.direction)));
    return Promise.resolve({
      from: peers,
      networks: switches.map((sw) => sw.name),
      direction: action.direction,
    });
  },
  undo: (_action, { held }) => undoHeld(held),
});
