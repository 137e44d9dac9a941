/**
 * Memory pressure: the guest's virtio balloon inflated, so the guest has
 * less memory, and deflated again. The guest gives the memory up itself
 * (its balloon driver), so each change waits until QEMU reports the
 * balloon where it was asked to be.
 *
 * @module
 */

import { CorralError, QmpError, TimeoutError } from "../errors.ts";
import type { ActionOptions, VmHandle as Vm } from "./handle.ts";
import { delay } from "../_async.ts";

/**
 * Set the guest's memory to `bytes` through its balloon and wait until the
 * guest has given up (or taken back) that much; resolves to the memory it
 * had before.
 *
 * @example
 * ```ts ignore
 * const before = await balloonTo(vm, 128 * 2 ** 20); // the guest has 128 MiB left
 * await balloonTo(vm, before);                          // and all of it again
 * ```
 *
 * @throws {CorralError} The VM has no balloon device (`balloon: true` in its spec).
 * @throws {TimeoutError} The guest did not get there in time (no balloon driver, or it cannot spare the memory).
 */
export async function balloonTo(
  vm: Vm,
  bytes: number,
  options: ActionOptions = {},
): Promise<number> {
  const deadline = { timeout: options.timeout, signal: options.signal };
  const before = await balloonActual(vm, deadline);
  await vm.execute("balloon", { value: bytes }, deadline);
  const until = Date.now() + (options.timeout ?? 30_000);
  let now = before;
  // The guest moves the balloon a page batch at a time; QEMU's figure is the truth.
  while (Math.abs(now - bytes) >= 1 << 20) {
    if (Date.now() > until) {
      throw new TimeoutError(
        `the guest's memory is ${mib(now)}, not the ${mib(bytes)} its balloon was set to: ` +
          `does the guest have a virtio-balloon driver, and that much to spare?`,
        { vm: vm.name, timeout: options.timeout ?? 30_000 },
      );
    }
    await delay(100, { signal: options.signal });
    now = await balloonActual(vm, deadline);
  }
  return before;
}

/**
 * The memory the guest has now, as its balloon leaves it.
 *
 * @throws {CorralError} The VM has no balloon device.
 */
export async function balloonActual(vm: Vm, deadline: ActionOptions = {}): Promise<number> {
  try {
    return (await vm.execute("query-balloon", undefined, deadline)).actual;
  } catch (cause) {
    if (cause instanceof QmpError && cause.qmpClass === "DeviceNotActive") {
      throw new CorralError("has no balloon device: give it balloon: true in its spec", {
        vm: vm.name,
        cause,
      });
    }
    throw cause;
  }
}

/** Bytes as whole MiB, for messages. */
export const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;
