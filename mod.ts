/**
 * corral drives many QEMU virtual machines through the QEMU Machine Protocol
 * (QMP): a typed, race-free protocol core, VMs whose actions finish when
 * their effect is seen, and event waits that never miss an early event.
 *
 * @example Pause and resume a VM
 * ```ts
 * import { Vm } from "./mod.ts";
 * import { spawnQemu } from "./tests/_qemu.ts";
 * import assert from "node:assert/strict";
 *
 * await using qemu = await spawnQemu();
 * await using vm = await Vm.connect(qemu.address, { name: "a" });
 * const stopped = vm.waitFor("STOP");
 * await vm.execute("stop");
 * assert.equal((await stopped).event, "STOP");
 * await vm.resume();
 * assert.equal((await vm.status()).status, "running");
 * ```
 *
 * @module
 */

export * from "./lib/errors.ts";
export * from "./lib/qmp/address.ts";
export * from "./lib/qmp/framing.ts";
export * from "./lib/qmp/match.ts";
export * from "./lib/qmp/journal.ts";
export * from "./lib/qmp/client.ts";
export * from "./lib/vm/vm.ts";
