/**
 * Launching QEMU: a spec becomes a command line, a private runtime
 * directory, a process that never outlives its parent, and a connected
 * {@linkcode Vm} with its serial console.
 *
 * @module
 */

import { Machine } from "./machine.ts";
import type { LaunchOptions, LaunchSpec } from "./machine.ts";
import { startVm, type Vm } from "./vm.ts";

export * from "./machine.ts";
export { startVm } from "./vm.ts";

/**
 * Launch a VM from `spec` and resolve once QMP is negotiated and, for a
 * guest, the serial console is attached (so no output is lost) and the
 * guest runs.
 *
 * @throws {LaunchError} The spec is invalid, QEMU is missing, or QEMU exited
 *   while starting (the message ends with its own words).
 *
 * @example Crash and recover the built-in guest
 * ```ts
 * import { launch } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "drill" });
 * await vm.console.waitFor("READY");
 * await vm.injectNmi();
 * const panic = await vm.waitFor("GUEST_PANICKED");
 * assert.deepEqual(panic.data, { action: "pause" });
 * await vm.reset();
 * await vm.console.waitFor("READY");
 * ```
 */
export async function launch(spec: LaunchSpec, options: LaunchOptions = {}): Promise<Vm> {
  return startVm(await Machine.create(spec, options));
}
