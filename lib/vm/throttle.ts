/**
 * A slow disk: QEMU's I/O throttling (`block_set_io_throttle`) on one of
 * a VM's disks, set at run time and lifted again.
 *
 * @module
 */

import type { ActionOptions, VmHandle as Vm } from "./handle.ts";
import { findDisk } from "./_block.ts";

/** Options of {@linkcode throttleDisk}. */
export interface ThrottleOptions extends ActionOptions {
  /** The disk: `disk0`, `disk1`, … (default: the first writable one). */
  disk?: string | undefined;
  /** I/O operations per second, read and write together; 0: no limit. */
  iops?: number | undefined;
  /** Bytes per second, read and write together; 0: no limit. */
  bps?: number | undefined;
}

/**
 * Limit a disk's I/O (both 0 or absent: lift the limit); resolves to the
 * disk's device name.
 *
 * @throws {CorralError} The VM has no such disk.
 */
export async function throttleDisk(vm: Vm, options: ThrottleOptions = {}): Promise<string> {
  const { device } = await findDisk(vm, options.disk);
  await vm.execute("block_set_io_throttle", {
    device,
    iops: options.iops ?? 0,
    iops_rd: 0,
    iops_wr: 0,
    bps: options.bps ?? 0,
    bps_rd: 0,
    bps_wr: 0,
  }, { timeout: options.timeout, signal: options.signal });
  return device;
}
