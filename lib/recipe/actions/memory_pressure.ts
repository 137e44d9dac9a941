import { CorralError } from "../../errors.ts";
import { balloonActual, mib } from "../../vm/balloon.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `memory-pressure: { balloon: SIZE }`: the targets' balloon takes SIZE of
 * the guest's memory (the step ends once the guest has given it up) until
 * healed, by itself, at the end of its block, before `finally`, or by
 * `heal`, which gives it all back. The VMs need `balloon: true`.
 */
export default defineAction({
  key: "memory-pressure",
  summary: "take balloon: SIZE of the guest's memory with its balloon until healed",
  options: { balloon: required(opt.bytes("how much memory the balloon takes: 64M, 1G")) },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.balloon ? undefined : "it has no balloon (give it balloon: true)",
  async run(action, { vm, timeout, signal, hold }) {
    const before = await balloonActual(vm, { timeout, signal });
    if (action.balloon >= before) {
      throw new CorralError(
        `the balloon cannot take ${mib(action.balloon)}: the guest has ${mib(before)} in all`,
        { vm: vm.name },
      );
    }
    hold(before);
    await vm.balloonTo(before - action.balloon, { timeout, signal });
    return { before, after: before - action.balloon };
  },
  async undo(_action, { vm, held, timeout, signal }) {
    if (typeof held === "number") await vm.balloonTo(held, { timeout, signal });
  },
});
