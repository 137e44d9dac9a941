import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `balloon: { size }`: the guest's memory set to `size` through its
 * balloon (down or back up), the step ending once the guest got there. Not
 * undone (`memory-pressure` is the fault that heals itself). The VM needs
 * `balloon: true`.
 */
export default defineAction({
  key: "balloon",
  summary: "set the guest's memory to size through its balloon (balloon: true in the spec)",
  options: { size: required(opt.bytes("the guest's memory: 128M, 1G")) },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.balloon ? undefined : "it has no balloon (give it balloon: true)",
  async run(action, { vm, timeout, signal }) {
    const before = await vm.balloonTo(action.size, { timeout, signal });
    return { before, after: action.size };
  },
});
