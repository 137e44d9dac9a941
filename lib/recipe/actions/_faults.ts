/**
 * What the network faults share: whether a VM sits on a network corral
 * switches, and healing the handles a fault kept.
 *
 * @module
 */

import type { InventoryVm, Recipe } from "../model.ts";

/** Why `vm` has no network a switch fault can act on, or `undefined` when it has. */
export function notSwitched(vm: InventoryVm, recipe: Recipe): string | undefined {
  const switched = vm.networks.filter((nic) =>
    recipe.networks.find((n) => n.name === nic.name)?.via !== "bridge"
  );
  return switched.length > 0
    ? undefined
    : vm.networks.length > 0
    ? "its networks are kernel bridges (via: bridge), which corral cannot fault: leave via out"
    : "it is on no lab network (give it networks: [NAME])";
}

/** Run the undo functions a fault kept with `hold`. */
export function undoHeld(held: unknown): Promise<void> {
  for (const undo of (held as (() => void)[] | undefined) ?? []) undo();
  return Promise.resolve();
}
