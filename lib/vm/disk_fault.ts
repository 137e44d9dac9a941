/**
 * A failing disk: QEMU's `blkdebug` filter put between the guest and a
 * disk's qcow2 node at run time (`blockdev-reopen` of the disk's
 * pass-through node), so the guest's reads or writes fail with EIO or
 * ENOSPC, and taken out again. Only the guest's I/O fails: qcow2's own
 * metadata I/O passes below the filter, so the image stays consistent and
 * the heal, which flushes, succeeds.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import type { ActionOptions, VmHandle as Vm } from "./handle.ts";
import { findDisk } from "./_block.ts";
import { diskNodes } from "./spec.ts";
import { currentNodes } from "./_block.ts";

/** The error a failing disk gives. */
export type DiskError = "eio" | "enospc";
/** Which of the guest's requests fail. */
export type DiskOps = "read" | "write" | "all";

/** Options of {@linkcode failDisk}. */
export interface DiskFaultOptions extends ActionOptions {
  /** The disk: its name from the spec (`disk0`, `disk1`, … by default); default: the first writable one. */
  disk?: string | undefined;
  /** `eio` (default) or `enospc` (QEMU's default policy then pauses the VM: status `io-error`). */
  error?: DiskError | undefined;
  /** `read`, `write` or `all` (default). */
  ops?: DiskOps | undefined;
}

const ERRNO: Record<DiskError, number> = { eio: 5, enospc: 28 };
const IO_TYPES: Record<DiskOps, string[]> = {
  read: ["read"],
  write: ["write", "write-zeroes", "discard"],
  all: ["read", "write", "write-zeroes", "discard"],
};

/**
 * Make a disk fail the guest's I/O until {@linkcode healDisk}; resolves to
 * the disk's device name.
 *
 * @example
 * ```ts ignore
 * const disk = await failDisk(vm, { disk: "data", error: "eio", ops: "write" });
 * // … the guest's writes to it fail; QEMU sends BLOCK_IO_ERROR …
 * await healDisk(vm, disk);
 * ```
 *
 * @throws {CorralError} No such disk, or one corral did not launch (it has no place for a fault).
 */
export async function failDisk(vm: Vm, options: DiskFaultOptions = {}): Promise<string> {
  const { device } = await findDisk(vm, options.disk);
  const nodes = await faultable(vm, device);
  const errno = ERRNO[options.error ?? "eio"];
  const deadline = { timeout: options.timeout, signal: options.signal };
  await vm.execute("blockdev-add", {
    driver: "blkdebug",
    "node-name": nodes.fault,
    image: nodes.format,
    // `none`: active from the start, no event needed. Flushes pass, so the heal can flush.
    "inject-error": IO_TYPES[options.ops ?? "all"].map((iotype) => ({
      event: "none" as const,
      iotype: iotype as "read",
      errno,
    })),
  }, deadline);
  try {
    await reopen(vm, nodes.io, nodes.fault, deadline);
  } catch (error) {
    await vm.execute("blockdev-del", { "node-name": nodes.fault }).catch(() => {});
    throw error;
  }
  return device;
}

/**
 * Take a disk's fault out: the guest's I/O reaches the disk again, and a VM
 * that the fault paused (`io-error`, QEMU's policy for ENOSPC) continues,
 * which retries the requests that failed.
 */
export async function healDisk(vm: Vm, device: string, options: ActionOptions = {}): Promise<void> {
  const deadline = { timeout: options.timeout, signal: options.signal };
  const named = await vm.execute("query-named-block-nodes", { flat: true }, deadline);
  const nodes = currentNodes(named, device) ?? diskNodes(device);
  await reopen(vm, nodes.io, nodes.format, deadline);
  await vm.execute("blockdev-del", { "node-name": nodes.fault }, deadline);
  const { status } = await vm.status(deadline);
  if (status === "io-error") await vm.resume(deadline);
}

/** The disk's node names, once it is known to be one of corral's, with no fault in place. */
async function faultable(vm: Vm, device: string): Promise<ReturnType<typeof diskNodes>> {
  const named = await vm.execute("query-named-block-nodes", { flat: true });
  const nodes = currentNodes(named, device) ?? diskNodes(device);
  const has = (name: string) => named.some((n) => n["node-name"] === name);
  if (!has(nodes.io)) {
    throw new CorralError(
      `cannot fail disk ${device}: only the disks of its spec (disks: [...]) can take a fault`,
      { vm: vm.name },
    );
  }
  if (has(nodes.fault)) {
    throw new CorralError(`disk ${device} is failing already: heal it first`, { vm: vm.name });
  }
  return nodes;
}

function reopen(
  vm: Vm,
  node: string,
  file: string,
  deadline: ActionOptions,
): Promise<Record<string, never>> {
  return vm.execute(
    "blockdev-reopen",
    { options: [{ driver: "raw", "node-name": node, file }] },
    deadline,
  );
}
