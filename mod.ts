/**
 * corral drives many QEMU virtual machines through the QEMU Machine Protocol
 * (QMP): a race-free protocol core, VMs whose actions finish when their
 * effect is seen, event waits that never miss an early event, a serial
 * console, a built-in guest that really panics, and fleets of VMs.
 *
 * @example Crash a VM and bring it back
 * ```ts
 * import { Lab } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using lab = await Lab.launch([{ name: "db1" }, { name: "web1" }]);
 * await lab.all().run((vm) => vm.console.waitFor("READY"));
 * const db = lab.vm("db1");
 * await db.injectNmi();
 * const panic = await db.waitFor("GUEST_PANICKED");
 * assert.deepEqual(panic.data, { action: "pause" });
 * await db.reset();
 * await db.console.waitFor("READY");
 * assert.equal((await lab.vm("web1").status()).status, "running");
 * ```
 *
 * @module
 */

export * from "./lib/qmp/mod.ts";
export * from "./lib/vm/vm.ts";
export * from "./lib/vm/console.ts";
export {
  launch,
  type LaunchOptions,
  type LaunchSpec,
  type Machine,
  type PanicPolicy,
  qemuArgs,
  validateSpec,
} from "./lib/vm/launch.ts";
export type { QemuChild, QemuProcess } from "./lib/_process.ts";
export * from "./lib/host/ssh.ts";
export { handleExitSignals, killAllLaunched, releaseAllLaunched } from "./lib/vm/exit_cleanup.ts";
export {
  collectGarbage,
  type GcResult,
  listVms,
  type VmEntry,
  type VmRecord,
} from "./lib/vm/registry.ts";
export * from "./lib/vm/select.ts";
export * from "./lib/vm/fleet.ts";
export * from "./lib/vm/lab.ts";
export * from "./lib/agent/client.ts";
export * from "./lib/vm/jobs.ts";
export * from "./lib/vm/migrate.ts";
export * from "./lib/vm/snapshot.ts";
export * from "./lib/vm/backup.ts";
export { addresses, LabNetworks, type NetworkSpec, type Nic } from "./lib/vm/network.ts";
export * from "./lib/agent/vm_agent.ts";
export * from "./lib/recipe/mod.ts";
