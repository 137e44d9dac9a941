/**
 * Checkpoints of a lab: every VM paused at one moment, its machine state
 * saved (QEMU's migration stream) and its disks copied as they were, then
 * resumed; and how a later lab starts from them instead of booting.
 *
 * @module
 */

import { CorralError, LaunchError } from "../errors.ts";
import { debianRekey } from "./guest/debian.ts";
import { launchedDiskIds, type LaunchSpec } from "./spec.ts";
import { currentNodes } from "./_block.ts";
import { saveState } from "./template.ts";
import type { Vm } from "./vm.ts";

/** One VM as a checkpoint holds it. */
export interface SavedVm {
  /** The VM's name. */
  name: string;
  /** Its machine state (a file of QEMU's migration stream). */
  state: string;
  /** Its disks as they were, by device name (read-only qcow2 files; their bases stay where they are). */
  disks: { id: string; file: string }[];
  /** Whether it was running (else it was paused, and starts paused). */
  running: boolean;
}

/** What {@linkcode saveCheckpoint} saved, and how long the lab stood still for it. */
export interface CheckpointSaved {
  /** The VMs, in the order given. */
  vms: SavedVm[];
  /** How long the VMs were paused, in ms: from the last one paused to the first resumed. */
  pausedMs: number;
}

/** Deadline and abort of a checkpoint's save. */
export interface CheckpointOptions {
  /** The whole save's deadline, in ms. Default 120,000. */
  timeout?: number;
}

/**
 * Pause every VM, save each one's machine state and copy its disks into
 * `dir/NAME/`, then resume those that were running — whatever happened.
 * The VMs must have been launched by corral on this machine.
 *
 * @throws {CorralError} A VM is attached or on an SSH host, or a state or disk could not be saved.
 *
 * @example
 * ```ts
 * import { Lab, saveCheckpoint } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using lab = await Lab.launch([{ name: "a" }, { name: "b" }]);
 * await lab.select("all").run((vm) => vm.console.waitFor("READY"));
 * const dir = await Deno.makeTempDir();
 * const saved = await saveCheckpoint([lab.vm("a"), lab.vm("b")], dir);
 * assert.equal(saved.vms.length, 2);
 * assert.equal((await lab.vm("a").status()).status, "running");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function saveCheckpoint(
  vms: readonly Vm[],
  dir: string,
  options: CheckpointOptions = {},
): Promise<CheckpointSaved> {
  const timeout = options.timeout ?? 120_000;
  for (const vm of vms) {
    if (vm.dir === undefined || vm.host !== undefined) {
      throw new CorralError("a checkpoint saves only VMs corral launched on this machine", {
        vm: vm.name,
      });
    }
  }
  const running = await Promise.all(
    vms.map(async (vm) => (await vm.status()).status === "running"),
  );
  const paused: Vm[] = [];
  let since = 0;
  let saved: SavedVm[];
  try {
    // Everyone stops before anyone is saved: the checkpoint is one moment of the whole lab.
    await Promise.all(vms.map(async (vm, i) => {
      if (!running[i]) return;
      await vm.execute("stop");
      paused.push(vm);
    }));
    since = performance.now();
    saved = await Promise.all(
      vms.map((vm, i) => saveOne(vm, `${dir}/${vm.name}`, running[i]!, timeout)),
    );
  } finally {
    // A saved VM stands in `postmigrate`; `cont` takes its disks back and lets it run.
    await Promise.allSettled(paused.map((vm) => vm.execute("cont")));
  }
  return { vms: saved, pausedMs: Math.round(performance.now() - since) };
}

/** Save one (paused) VM: its state, then its disks, flushed by the save, copied read-only. */
async function saveOne(vm: Vm, dir: string, running: boolean, timeout: number): Promise<SavedVm> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const state = `${dir}/state`;
  await saveState(vm, state, timeout);
  const disks: SavedVm["disks"] = [];
  for (const disk of await diskFiles(vm)) {
    const file = `${dir}/${disk.id}.qcow2`;
    await Deno.copyFile(disk.file, file);
    await Deno.chmod(file, 0o400);
    disks.push({ id: disk.id, file });
  }
  return { name: vm.name, state, disks, running };
}

/** The files of the VM's corral-made disks, as QEMU has them open. */
async function diskFiles(vm: Vm): Promise<{ id: string; file: string }[]> {
  const nodes = await vm.execute("query-named-block-nodes");
  const files: { id: string; file: string }[] = [];
  for (const device of await vm.execute("query-block")) {
    const id = device.device;
    const current = id ? currentNodes(nodes, id) : undefined;
    if (!current || device.inserted?.["node-name"] !== current.io) continue; // a CD, a seed
    const node = nodes.find((n) => n["node-name"] === current?.file);
    if (node === undefined || current.generation > 0) {
      throw new CorralError(
        `disk '${id}' is not on the file corral made for it (block-move, snapshot: external): ` +
          "a checkpoint cannot save it yet (commit an external snapshot first)",
        { vm: vm.name },
      );
    }
    files.push({ id, file: node.file });
  }
  return files;
}

/** The saved VMs a lab starts from (see `Lab.launch`'s `checkpoint`). */
export interface LabCheckpoint {
  /** The VMs, by name. */
  vms: readonly SavedVm[];
}

/**
 * The spec a VM restored from `saved` launches with: each disk an overlay
 * of the disk as it was saved, so the memory it restores and its disks agree.
 *
 * @throws {LaunchError} The checkpoint's disks are not the spec's.
 */
export function restoredSpec<S extends LaunchSpec>(spec: S, saved: SavedVm): S {
  const ids = launchedDiskIds(spec);
  const found = saved.disks.map((disk) => disk.id);
  if (ids.join() !== found.join()) {
    throw new LaunchError(
      `the checkpoint has disks [${found.join(", ")}] where the spec has [${ids.join(", ")}]`,
      { vm: spec.name },
    );
  }
  if (!ids.length) return spec;
  return { ...spec, disks: saved.disks.map((disk) => ({ name: disk.id, base: disk.file })) };
}

/**
 * After a restore: a `builtin:debian` guest gets fresh randomness (two labs
 * resumed from one checkpoint must not draw the same numbers) and the SSH
 * key corral made for this launch.
 */
export async function rekey(vm: Vm, spec: LaunchSpec, timeout = 60_000): Promise<void> {
  if (spec.guest !== "builtin:debian" || !vm.hasAgent) return;
  await vm.agent.waitReady({ timeout });
  const key = await Deno.readTextFile(`${vm.dir}/ssh_key.pub`).catch(() => undefined);
  const set = await vm.agent.exec(debianRekey(key), { timeout });
  if (set.exitCode !== 0) {
    throw new LaunchError(`the restored guest could not take its new key: ${set.stderr.trim()}`, {
      vm: vm.name,
    });
  }
}
