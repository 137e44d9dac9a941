/**
 * What the actions on a VM's disks (`resize-disk`, `block-move`, `commit`,
 * `snapshot: { external }`) share: which VMs can take them.
 *
 * @module
 */

import { launchedDiskIds } from "../../vm/spec.ts";
import type { InventoryVm } from "../model.ts";

/** Why `vm` has no disk `disk` (any disk, when `undefined`), or `undefined` when it has. */
export function diskUnfit(disk: string | undefined, vm: InventoryVm): string | undefined {
  const ids = vm.spec ? launchedDiskIds(vm.spec) : [];
  if (!ids.length) return "it has no disk (give it disks: [{ name: data, size: 64M }])";
  return disk === undefined || ids.includes(disk)
    ? undefined
    : `it has no disk '${disk}' (its disks: ${ids.join(", ")})`;
}
