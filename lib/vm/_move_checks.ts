/**
 * What a migration's destination could not carry, refused before anything
 * stops: disks to another host without copying them, or a copy of disks
 * that are files of their own.
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import type { LaunchSpec } from "./spec.ts";

/** Refuse a move of `from` to `to` on another host while its disks stay behind. */
export function refuseMove(from: LaunchSpec, to: LaunchSpec): void {
  const elsewhere = (to.host ?? undefined) !== (from.host ?? undefined);
  if (elsewhere && from.disks?.length) {
    throw new LaunchError(
      `its disks cannot move to ${to.host ? `host '${to.host}'` : "this machine"} as they ` +
        `are: give the migration copy-storage: true (its disks are copied while it runs)`,
      { vm: from.name },
    );
  }
}

/** Refuse a copy of disks that are files of their own (yours, or moved by a storage job). */
export function refuseCopy(spec: LaunchSpec): void {
  const own = (spec.disks ?? []).find((disk) => "file" in disk);
  if (own && "file" in own) {
    throw new LaunchError(
      `copy-storage copies the disks corral made; ${own.file} is a file of its own: ` +
        "move it with the VM yourself, or back it up and restore it there",
      { vm: spec.name },
    );
  }
}
