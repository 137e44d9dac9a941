/**
 * The VM's disks as QEMU sees them (`query-block`): which can hold
 * internal snapshots and be backed up, by device and node name.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** One disk of a VM. */
export interface Disk {
  /** The device (drive id): `disk0` for the first disk corral launched with. */
  device: string;
  /** The format node's name, for blockdev commands. */
  node: string;
  /** `qcow2`, `raw`, … */
  format: string;
  /** The image file. */
  file: string;
  /** Its virtual size in bytes. */
  size: number;
  /** Whether QEMU opened it read-only. */
  readOnly: boolean;
  /** The dirty bitmaps on it. */
  bitmaps: string[];
}

/** Every disk with a medium, in QEMU's order. */
export async function disksOf(vm: Vm): Promise<Disk[]> {
  const blocks = await vm.execute("query-block");
  // A medium without a node name (an empty drive's) cannot be named in blockdev commands.
  return blocks.flatMap(({ device, inserted }) =>
    inserted?.["node-name"] !== undefined
      ? [{
        device,
        node: inserted["node-name"],
        format: inserted.drv,
        file: inserted.file,
        size: inserted.image["virtual-size"],
        readOnly: inserted.ro,
        bitmaps: (inserted["dirty-bitmaps"] ?? []).flatMap((b) => b.name ?? []),
      }]
      : []
  );
}

/**
 * The writable qcow2 disks, which internal snapshots are saved on.
 *
 * @throws {CorralError} There is none: say how to add one.
 */
export async function snapshotDisks(vm: Vm): Promise<Disk[]> {
  const disks = (await disksOf(vm)).filter((d) => d.format === "qcow2" && !d.readOnly);
  if (disks.length === 0) {
    throw new CorralError(
      "has no writable qcow2 disk to hold snapshots: launch it with disks: [{ size: 64M }]",
      { vm: vm.name },
    );
  }
  return disks;
}

/**
 * The disk named `name` (device or node name), or the first writable one.
 *
 * @throws {CorralError} No such disk: the message lists the VM's disks.
 */
export async function findDisk(vm: Vm, name: string | undefined): Promise<Disk> {
  const disks = await disksOf(vm);
  const disk = name === undefined
    ? disks.find((d) => !d.readOnly)
    : disks.find((d) => d.device === name || d.node === name);
  if (!disk) {
    const known = disks.map((d) => `${d.device || d.node} (${d.format})`).join(", ") || "none";
    throw new CorralError(
      `${name === undefined ? "has no writable disk" : `has no disk ${JSON.stringify(name)}`}; ` +
        `its disks: ${known}`,
      { vm: vm.name },
    );
  }
  return disk;
}
