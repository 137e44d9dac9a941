/**
 * The VM's disks as QEMU sees them (`query-block`): which can hold
 * internal snapshots and be backed up, by device and node name.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import type { VmHandle as Vm } from "./handle.ts";
import { diskNodes } from "./spec.ts";

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

type NodeInfo = {
  "node-name"?: string;
  drv: string;
  file: string;
  ro: boolean;
  image: { "virtual-size": number };
  "dirty-bitmaps"?: { name?: string }[];
};

/** Every disk with a medium, in QEMU's order; corral's own disks by their qcow2 node. */
export async function disksOf(vm: Vm): Promise<Disk[]> {
  const blocks = await vm.execute("query-block");
  const wrapped = blocks.some((b) => /-io(-\d+)?$/.test(b.inserted?.["node-name"] ?? ""));
  const nodes = wrapped ? await vm.execute("query-named-block-nodes", { flat: true }) : [];
  // A medium without a node name (an empty drive's) cannot be named in blockdev commands.
  return blocks.flatMap(({ device, inserted }): Disk[] => {
    const format = currentNodes(nodes, device)?.format;
    const node: NodeInfo | undefined = nodes.find((n) => n["node-name"] === format) ?? inserted;
    if (node?.["node-name"] === undefined) return [];
    return [{
      device,
      node: node["node-name"],
      format: node.drv,
      file: node.file,
      size: node.image["virtual-size"],
      readOnly: node.ro,
      bitmaps: (node["dirty-bitmaps"] ?? []).flatMap((b) => b.name ?? []),
    }];
  });
}

/**
 * The node names of corral's disk `id` as they stand now, among QEMU's
 * `named` nodes: the newest a storage job made for it (a move's copy, an
 * external snapshot's overlay), else its first; `generation` is the
 * newest of any of its nodes.
 */
export function currentNodes(
  named: readonly { "node-name"?: string }[],
  id: string,
): ReturnType<typeof diskNodes> & { generation: number } | undefined {
  const newest = (kind: string) => {
    const pattern = new RegExp(`^${id}-${kind}(?:-(\\d+))?$`);
    let generation = -1;
    for (const node of named) {
      const match = pattern.exec(node["node-name"] ?? "");
      if (match) generation = Math.max(generation, Number(match[1] ?? 0));
    }
    return generation;
  };
  const [io, format] = [newest("io"), newest("fmt")];
  if (io < 0 || format < 0) return undefined;
  const { file } = diskNodes(id, format);
  return {
    ...diskNodes(id, format),
    io: diskNodes(id, io).io,
    file,
    generation: Math.max(io, format),
  };
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
