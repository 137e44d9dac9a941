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

// A curated surface: the QMP client and its errors, VMs and labs, the guest agent, and the recipe
// calls most programs need. Whole layers have entries of their own: ./qmp (framing and replay
// too), ./recipe, ./host (host kinds). QEMU's generated types are also under `qapi`. Internals
// (the launcher's pieces, process handling, helpers) are not exported.
export * from "./lib/errors.ts";
export * from "./lib/qmp/address.ts";
export * from "./lib/qmp/match.ts";
export * from "./lib/qmp/journal.ts";
export * from "./lib/qmp/client.ts";
export * from "./lib/qmp/schema.ts";
// By name too: `deno doc --lint` wants every type a public signature names exported as such.
export type * from "./lib/qmp/qapi.ts";
export { QAPI_QEMU_RELEASES, QAPI_QEMU_VERSIONS } from "./lib/qmp/qapi.ts";
export type * as qapi from "./lib/qmp/qapi.ts";
export {
  type CommandArguments,
  type CommandName,
  type CommandReturn,
  type DetachedVm,
  type EventName,
  type EventsOptions,
  type ExecuteRest,
  type Liveness,
  type QemuVersion,
  type RunState,
  type ShutdownOptions,
  type StopHow,
  type Subset,
  type TypedEvent,
  type TypedMatch,
  Vm,
  type VmChange,
  type VmConnectOptions,
  type WaitForOptions,
} from "./lib/vm/vm.ts";
export type { ActionOptions, StatusInfo, VmHandle } from "./lib/vm/handle.ts";
export { VmMonitor } from "./lib/vm/monitor.ts";
export { VmLifecycle } from "./lib/vm/lifecycle.ts";
export { Twin, type TwinOptions } from "./lib/vm/twin.ts";
export {
  Console,
  type ConsoleExecOptions,
  type ConsoleLine,
  type ConsoleWaitOptions,
  type LinePattern,
} from "./lib/vm/console.ts";
export {
  type CloudInit,
  type DiskSpec,
  launch,
  type LaunchOptions,
  type LaunchSpec,
  type PanicPolicy,
} from "./lib/vm/launch.ts";
export { type HostRunOptions, type HostRunResult, SshHost } from "./lib/host/ssh.ts";
export type { HostSpec } from "./lib/host/spec.ts";
export { handleExitSignals } from "./lib/vm/exit_cleanup.ts";
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
export {
  type CheckpointOptions,
  type CheckpointSaved,
  type LabCheckpoint,
  saveCheckpoint,
  type SavedVm,
} from "./lib/vm/checkpoint.ts";
export {
  GuestAgent,
  type GuestAgentExecuteOptions,
  type GuestAgentOptions,
} from "./lib/agent/client.ts";
export { type JobInfo, runJob, type RunJobOptions } from "./lib/vm/jobs.ts";
export {
  migrate,
  type MigrateOptions,
  type MigrationResult,
  type MoveOptions,
  type MoveResult,
} from "./lib/vm/migrate.ts";
export * from "./lib/vm/snapshot.ts";
export * from "./lib/vm/backup.ts";
export * from "./lib/vm/backup_set.ts";
export type { ThrottleOptions } from "./lib/vm/throttle.ts";
export { addCpus, addMemory, type DiskResize, resizeDisk } from "./lib/vm/grow.ts";
export type { StoragePlace, StorageResult } from "./lib/vm/storage.ts";
export type { DiskError, DiskFaultOptions, DiskOps } from "./lib/vm/disk_fault.ts";
export type { CpuLimit } from "./lib/vm/cpu_limit.ts";
export { LabNetworks, type NetworkSpec, type Nic } from "./lib/vm/network.ts";
export { type ImpairmentSpec, Switch } from "./lib/vm/switch.ts";
export type {
  AgentExecOptions,
  AgentExecResult,
  AgentFileOptions,
  AgentInterface,
  FrozenOptions,
  ThawOptions,
} from "./lib/agent/options.ts";
export { VmAgent } from "./lib/agent/vm_agent.ts";
export {
  diffRecipe,
  type FailurePause,
  fuzzRecipe,
  judge,
  loadRecipe,
  parseRecipe,
  planRecipe,
  type Recipe,
  RecipeError,
  rehearseRecipe,
  type Reporter,
  type ReporterEvent,
  type ReporterKind,
  type RunJournal,
  type RunOptions,
  runRecipe,
  type RunResult,
  type StepRecord,
  summary,
  type Verdict,
} from "./lib/recipe/mod.ts";
