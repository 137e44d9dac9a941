/**
 * Internal snapshots (`snapshot-save`, `snapshot-load`, `snapshot-delete`):
 * run as jobs, so a failure only the job reports (a duplicate tag: QEMU
 * answers `{}`) is an error; saved on every writable qcow2 disk with the
 * machine's state on the first. On a guest with an agent the file systems
 * are frozen for the save and always thawed after; a load thaws too, since
 * a snapshot saved frozen comes back frozen.
 *
 * @module
 */

import { snapshotDisks } from "./_block.ts";
import { type JobInfo, runJob } from "./jobs.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** Options of the snapshot calls. */
export interface SnapshotOptions {
  /**
   * Freeze the guest's file systems through its agent for the save (and
   * thaw after a load): `auto` (default) when the VM has an agent that
   * answers, `true` to require it, `false` never.
   */
  freeze?: "auto" | boolean;
  /** Deadline for the job, in ms. Default 120,000. */
  timeout?: number;
  /** Abandons the wait (the job goes on in QEMU). */
  signal?: AbortSignal;
}

/** What a snapshot call did. */
export interface SnapshotResult {
  /** The snapshot's tag. */
  tag: string;
  /** The disks (node names) it was saved on, loaded from or deleted from. */
  devices: string[];
  /** Whether the guest's file systems were frozen (save) or thawed (load). */
  frozen: boolean;
  /** The job, as query-jobs reported it. */
  job: JobInfo;
}

/** The node names of the disks snapshots go on. */
async function nodes(vm: Vm): Promise<string[]> {
  return (await snapshotDisks(vm)).map((d) => d.node);
}

/** Save the VM's state and disks as snapshot `tag`. */
export async function saveSnapshot(
  vm: Vm,
  tag: string,
  options: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const devices = await nodes(vm);
  const args = { tag, vmstate: devices[0], devices };
  const run = () => runJob(vm, "snapshot-save", args, jobOptions(options));
  if (!await agentFor(vm, options)) return { tag, devices, frozen: false, job: await run() };
  const frozen = { signal: options.signal, gone: () => !vm.connected };
  return { tag, devices, frozen: true, job: await vm.agent.withFrozen(run, frozen) };
}

/** Bring the VM back to snapshot `tag`: its state and disks. */
export async function loadSnapshot(
  vm: Vm,
  tag: string,
  options: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const devices = await nodes(vm);
  const job = await runJob(
    vm,
    "snapshot-load",
    { tag, vmstate: devices[0], devices },
    jobOptions(options),
  );
  const thaw = await agentFor(vm, options);
  if (thaw) await vm.agent.thawSurely({ timeout: 30_000, gone: () => !vm.connected });
  return { tag, devices, frozen: thaw, job };
}

/** Delete snapshot `tag` from the VM's disks. */
export async function deleteSnapshot(
  vm: Vm,
  tag: string,
  options: SnapshotOptions = {},
): Promise<SnapshotResult> {
  const devices = await nodes(vm);
  const job = await runJob(vm, "snapshot-delete", { tag, devices }, jobOptions(options));
  return { tag, devices, frozen: false, job };
}

function jobOptions(options: SnapshotOptions) {
  return { timeout: options.timeout ?? 120_000, signal: options.signal };
}

/** Whether to use the agent: asked for (it must answer), or `auto` and it answers. */
async function agentFor(vm: Vm, options: SnapshotOptions): Promise<boolean> {
  const freeze = options.freeze ?? "auto";
  if (freeze === false) return false;
  if (freeze === true) return vm.agent !== undefined; // throws when the VM has no agent channel
  if (!vm.hasAgent) return false;
  return await vm.agent.ping({ timeout: 3000 }).then(() => true, () => false);
}
