/**
 * Live storage jobs, as `virsh blockcopy --pivot`, `snapshot-create-as
 * --disk-only` and `blockcommit --active --pivot` do them: a disk moved to
 * a new file while the guest runs (a mirror, then the switch), an external
 * snapshot (a new overlay takes the writes), and its commit (the overlay's
 * data goes back into the image below it, which takes over). Each new
 * image gets the disk's next node names (`data-fmt-1`, …), and the VM
 * notes where the disk now is, so a migration or restart opens that file.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { currentNodes, findDisk } from "./_block.ts";
import { createImage } from "./_image.ts";
import { type JobInfo, toPivot } from "./jobs.ts";
import type { ActionOptions, VmHandle as Vm } from "./handle.ts";
import { diskNodes } from "./spec.ts";

/** What a storage job did to a disk. */
export interface StorageResult {
  /** The disk's device name. */
  disk: string;
  /** The image the guest's writes went to before. */
  from: string;
  /** The image they go to now. */
  to: string;
  /** The job's figures (a mirror's or a commit's), when one ran. */
  job?: JobInfo;
}

/** Where a VM's QEMU runs, as a storage job needs it: files there, and notes of the disk's image. */
export interface StoragePlace {
  /** Note that disk `id` is now the image `file` (see `Machine.diskMoved`). */
  moved(id: string, file: string): void;
  /** Whether `path` exists where QEMU runs (this machine, or its SSH host). */
  exists(path: string): Promise<boolean>;
  /** The SSH host QEMU runs on, if not this machine. */
  host?: string | undefined;
}

/** The disk as a storage job sees it: its device, current nodes and image. */
async function storageDisk(vm: Vm, name: string | undefined) {
  const disk = await findDisk(vm, name);
  const named = await vm.execute("query-named-block-nodes", { flat: true });
  const nodes = currentNodes(named, disk.device);
  if (!nodes) {
    throw new CorralError(`disk ${disk.device} is not one corral launched with its spec`, {
      vm: vm.name,
    });
  }
  if (named.some((n) => n["node-name"] === nodes.fault)) {
    throw new CorralError(`disk ${disk.device} has a fault in place: heal it first`, {
      vm: vm.name,
    });
  }
  const blocks = await vm.execute("query-block");
  const root = blocks.find((b) => b.device === disk.device)?.inserted?.["node-name"] ?? nodes.io;
  // The guest's root is corral's pass-through node, or an external snapshot's overlay on it.
  const overlay = root !== nodes.io;
  const fileOf = (generation: number) =>
    named.find((n) => n["node-name"] === diskNodes(disk.device, generation).file)?.file;
  const image = fileOf(nodes.generation) ?? disk.file;
  // Under an overlay: the newest image before it (the overlay is the newest generation).
  const below = overlay
    ? [...Array(nodes.generation).keys()].reverse().map(fileOf).find((f) => f !== undefined)
    : undefined;
  // The image the disk's own data stands on, if any (a `base:`, a guest image): never written.
  const ours = new Set(
    named.filter((n) => n["node-name"]?.startsWith(`${disk.device}-file`)).map((n) => n.file),
  );
  const formats = named.filter((n) => n["node-name"]?.startsWith(`${disk.device}-fmt`));
  const backing = formats.map((n) => n.backing_file).find((b) => b && !ours.has(b));
  const backingFormat = named.find((n) => n.file === backing && n.drv !== "file")?.drv;
  return { disk, nodes, root, overlay, image, below, backing, backingFormat };
}

/**
 * Move a disk to the new qcow2 file `to` while the guest runs: what the
 * disk holds is mirrored there (the image it stands on, a `base:` or a
 * guest image that is never written, stays its backing, as `virsh blockcopy
 * --shallow` does), then QEMU switches the guest over; the old image is
 * left as it was at the switch.
 *
 * @throws {CorralError} `to` exists, or the disk is not one of corral's.
 * @throws {JobError} The mirror failed.
 */
export async function moveDisk(
  vm: Vm,
  options: ActionOptions & { disk?: string | undefined; to: string },
  place: StoragePlace,
): Promise<StorageResult> {
  const { disk, nodes, root, image, backing, backingFormat } = await storageDisk(vm, options.disk);
  const to = await newFile(vm, options.to, place);
  const next = diskNodes(disk.device, nodes.generation + 1);
  const jobs = { timeout: options.timeout ?? 600_000, signal: options.signal };
  // What the disk itself holds is copied; the image under it (never written) stays its backing:
  // the mirror reads through corral's pass-through node, which shows it no deeper.
  const target = await createImage(vm, to, {
    size: disk.size,
    nodes: next,
    backing,
    backingFormat,
    openBacking: true,
  }, jobs);
  let job: JobInfo;
  try {
    // The copy gets a pass-through node of its own on top, as the disk had: the mirror copies
    // what the guest sees into it and, done, puts it in the old one's place.
    await vm.execute("blockdev-add", { driver: "raw", "node-name": next.io, file: next.format });
    job = await toPivot(
      vm,
      "blockdev-mirror",
      { device: root, target: next.io, sync: "full" },
      jobs,
    );
  } catch (error) {
    await vm.execute("blockdev-del", { "node-name": next.io }).catch(() => {});
    await target.close();
    await Deno.remove(to).catch(() => {});
    throw error;
  }
  await dropOld(vm, nodes);
  place.moved(disk.device, to);
  return { disk: disk.device, from: image, to, job };
}

/**
 * Put a new overlay, the qcow2 file `file`, on top of a disk while the
 * guest runs: the guest's writes go there from now on, the image below is
 * left as it was (crash-consistent: freeze the guest's file systems first
 * for more).
 *
 * @throws {CorralError} `file` exists, or the disk is not one of corral's.
 */
export async function snapshotDisk(
  vm: Vm,
  options: ActionOptions & { disk?: string | undefined; file: string },
  place: StoragePlace,
): Promise<StorageResult> {
  const { disk, nodes, overlay, image: below } = await storageDisk(vm, options.disk);
  if (overlay) {
    throw new CorralError(
      `disk ${disk.device} has an external snapshot already: commit it first (one at a time)`,
      { vm: vm.name },
    );
  }
  const file = await newFile(vm, options.file, place);
  const next = diskNodes(disk.device, nodes.generation + 1);
  const jobs = { timeout: options.timeout ?? 60_000, signal: options.signal };
  const image = await createImage(
    vm,
    file,
    { size: disk.size, backing: disk.file, nodes: next },
    jobs,
  );
  try {
    // On the pass-through node: a commit later writes back through it, and it is the root again.
    await vm.execute("blockdev-snapshot", { node: nodes.io, overlay: image.node }, jobs);
  } catch (error) {
    await image.close();
    await Deno.remove(file).catch(() => {});
    throw error;
  }
  place.moved(disk.device, file);
  return { disk: disk.device, from: below, to: file };
}

/**
 * Commit a disk's top overlay (made by {@linkcode snapshotDisk}) into the
 * image below it while the guest runs, then switch the guest back to that
 * image; the overlay's file stays, no longer used.
 *
 * @throws {CorralError} The disk has no overlay of corral's to commit.
 * @throws {JobError} The commit failed.
 */
export async function commitDisk(
  vm: Vm,
  options: ActionOptions & { disk?: string | undefined },
  place: StoragePlace,
): Promise<StorageResult> {
  const { disk, nodes, root, overlay, image, below: base } = await storageDisk(vm, options.disk);
  if (!overlay || base === undefined) {
    throw new CorralError(
      `disk ${disk.device} has no external snapshot to commit (snapshot: { external } makes one)`,
      { vm: vm.name },
    );
  }
  const jobs = { timeout: options.timeout ?? 600_000, signal: options.signal };
  const job = await toPivot(vm, "block-commit", { device: root, "base-node": nodes.io }, jobs);
  await dropOld(vm, { ...nodes, io: "" }); // the overlay's nodes; the pass-through one is the root
  place.moved(disk.device, base);
  return { disk: disk.device, from: image, to: base, job };
}

/**
 * Close the nodes a storage job replaced, where corral opened them itself
 * (generation 1 on; those of the command line go with their last user).
 */
async function dropOld(vm: Vm, nodes: ReturnType<typeof diskNodes>) {
  // Those of the command line (generation 0) go with their last user, and cannot be deleted.
  for (const name of [nodes.io, nodes.format, nodes.file].filter((n) => /-\d+$/.test(n))) {
    await vm.execute("blockdev-del", { "node-name": name }).catch(() => {});
  }
}

/**
 * Where an external snapshot `name` of a disk goes: `name` itself when it
 * is a path (has a `/`), else `DISK-NAME.qcow2` beside the disk's image.
 */
export async function overlayFile(vm: Vm, disk: string | undefined, name: string): Promise<string> {
  if (name.includes("/")) return name;
  const found = await findDisk(vm, disk);
  const named = await vm.execute("query-named-block-nodes", { flat: true });
  const nodes = currentNodes(named, found.device);
  const image = named.find((n) => n["node-name"] === nodes?.file)?.file ?? found.file;
  return `${image.replace(/\/[^/]*$/, "")}/${found.device}-${name}.qcow2`;
}

/**
 * `path` made absolute (from this folder; on an SSH host it must be), and
 * refused when it exists where QEMU runs: a storage job writes a new file.
 */
async function newFile(vm: Vm, path: string, place: StoragePlace): Promise<string> {
  if (!path.startsWith("/") && place.host !== undefined) {
    throw new CorralError(
      `${path}: give a storage job's file as an absolute path on host '${place.host}'`,
      {
        vm: vm.name,
      },
    );
  }
  const file = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  if (await place.exists(file)) {
    throw new CorralError(`${file} exists: a storage job writes a new file`, { vm: vm.name });
  }
  return file;
}
