/**
 * Growing a VM while its guest runs, as operators do: a disk made larger
 * (`block_resize`), CPUs and memory DIMMs hot-plugged into the room the
 * spec left (`maxcpus`, `slots`). Each resolves once QEMU shows the
 * change; the guest sees it through its drivers and ACPI.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { findDisk } from "./_block.ts";
import type { ActionOptions } from "./handle.ts";
import type { Vm } from "./vm.ts";

/** What {@linkcode resizeDisk} did. */
export interface DiskResize {
  /** The disk's device name. */
  disk: string;
  /** Its size before, in bytes. */
  from: number;
  /** Its size now, in bytes. */
  to: number;
}

/**
 * Grow a disk (`disk0`… or its name; default the first writable one) to
 * `bytes` while the guest runs; the guest's driver sees the new size.
 *
 * @throws {CorralError} No such disk, or `bytes` is smaller than it is (a guest file system would lose data).
 *
 * @example
 * ```ts
 * import { launch, resizeDisk } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "grow", disks: [{ name: "data", size: "16M" }] });
 * const resized = await resizeDisk(vm, "data", 32 * 2 ** 20);
 * assert.deepEqual(resized, { disk: "data", from: 16 * 2 ** 20, to: 32 * 2 ** 20 });
 * ```
 */
export async function resizeDisk(
  vm: Vm,
  disk: string | undefined,
  bytes: number,
  options: ActionOptions = {},
): Promise<DiskResize> {
  const found = await findDisk(vm, disk);
  if (bytes < found.size) {
    throw new CorralError(
      `disk ${found.device} is ${found.size} bytes: corral grows disks and does not shrink them ` +
        "(what the guest keeps at the end would be lost)",
      { vm: vm.name },
    );
  }
  // The device, not the qcow2 node: resizing below the raw node corral puts on top is not seen.
  await vm.execute("block_resize", { device: found.device, size: bytes }, options);
  return { disk: found.device, from: found.size, to: bytes };
}

/**
 * Hot-plug `count` CPUs into the room `maxcpus` left; resolves to how many
 * CPUs QEMU has then. A guest brings new CPUs online itself (udev), or by
 * hand (`echo 1 > /sys/devices/system/cpu/cpuN/online`).
 *
 * @throws {CorralError} Not that much room (`maxcpus` in the spec).
 */
export async function addCpus(vm: Vm, count: number, options: ActionOptions = {}): Promise<number> {
  const slots = await vm.execute("query-hotpluggable-cpus", undefined, options);
  const free = slots.filter((slot) => slot["qom-path"] === undefined).reverse();
  if (free.length < count) {
    throw new CorralError(
      `room for ${free.length} more CPU(s), not ${count}: give the VM maxcpus in its spec`,
      { vm: vm.name },
    );
  }
  const before = (await vm.execute("query-cpus-fast", undefined, options)).length;
  for (const slot of free.slice(0, count)) {
    const { "socket-id": socket, "core-id": core, "thread-id": thread } = slot.props;
    await vm.deviceAdd({
      driver: slot.type,
      id: `cpu-s${socket ?? 0}c${core ?? 0}t${thread ?? 0}`,
      ...slot.props,
    }, options);
  }
  // device_add realizes a CPU before it answers: QEMU counts it at once.
  const now = (await vm.execute("query-cpus-fast", undefined, options)).length;
  if (now !== before + count) {
    throw new CorralError(`QEMU has ${now} CPU(s) after adding ${count} to ${before}`, {
      vm: vm.name,
    });
  }
  return now;
}

/**
 * Hot-plug a DIMM of `bytes` into a free slot (`slots` in the spec);
 * resolves to the memory QEMU then gives the guest, in bytes. A guest
 * brings new memory online itself (udev, or `memhp_default_state=online`).
 *
 * @throws {QmpError} No free slot, or more than `maxmem`: QEMU's words.
 */
export async function addMemory(
  vm: Vm,
  bytes: number,
  options: ActionOptions = {},
): Promise<number> {
  const dimms = await vm.execute("query-memory-devices", undefined, options);
  const id = `dimm${dimms.length}`;
  await vm.objectAdd({ "qom-type": "memory-backend-ram", id: `${id}-mem`, size: bytes }, options);
  await vm.deviceAdd({ driver: "pc-dimm", id, memdev: `${id}-mem` }, options);
  const summary = await vm.execute("query-memory-size-summary", undefined, options);
  return summary["base-memory"] + (summary["plugged-memory"] ?? 0);
}
