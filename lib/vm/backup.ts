/**
 * Disk backups with `blockdev-backup`, while the guest runs: a full copy
 * into a new qcow2 file, then incremental ones that hold only what changed
 * since the previous backup (tracked by a dirty bitmap made in the same
 * transaction as the full copy) on top of it as their backing file, so the
 * newest file opens as the whole disk. Every step that QEMU runs as a job
 * is waited for and its error read.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { findDisk } from "./_block.ts";
import { awaitJob, type JobInfo, newJobId } from "./jobs.ts";
import { createImage } from "./_image.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** Options of {@linkcode backup}. */
export interface BackupOptions {
  /** The file to write (a new qcow2 image); it must not exist. */
  to: string;
  /** The disk: its device (`disk0`) or node name. Default: the first writable disk. */
  disk?: string;
  /**
   * `full` (default): the whole disk, and start tracking changes;
   * `incremental`: what changed since the previous backup of this disk,
   * over that backup as its backing file.
   */
  sync?: "full" | "incremental";
  /** The dirty bitmap's name. Default `corral-backup`. */
  bitmap?: string;
  /** Deadline for each job, in ms. Default 600,000. */
  timeout?: number;
  /** Abandons the waits (the jobs go on in QEMU). */
  signal?: AbortSignal;
}

/** What a backup wrote. */
export interface BackupResult {
  /** The file written. */
  file: string;
  /** The disk's device name. */
  disk: string;
  /** `full` or `incremental`. */
  sync: "full" | "incremental";
  /** The backup it builds on (incremental). */
  base?: string;
  /** Bytes the job copied. */
  bytes: number;
  /** The backup job, as query-jobs reported it. */
  job: JobInfo;
}

/** The newest backup of each disk of each VM, for the next incremental one. */
const LAST = new WeakMap<Vm, Map<string, string>>();

/**
 * Back up one disk of a running VM into a new qcow2 file.
 *
 * @throws {CorralError} The target exists, the disk is unknown, or an
 *   incremental backup has no full one before it.
 * @throws {QmpError} QEMU refused a step (a lock or permission conflict between block nodes).
 * @throws {JobError} A job failed.
 */
export async function backup(vm: Vm, options: BackupOptions): Promise<BackupResult> {
  const sync = options.sync ?? "full";
  const bitmap = options.bitmap ?? "corral-backup";
  const disk = await findDisk(vm, options.disk);
  const file = absolute(options.to);
  const last = LAST.get(vm) ?? new Map<string, string>();
  const base = sync === "incremental" ? last.get(disk.device) : undefined;
  if (sync === "incremental" && (!base || !disk.bitmaps.includes(bitmap))) {
    throw new CorralError(
      `no full backup of ${disk.device} to build on: make one first (sync: full)`,
      { vm: vm.name },
    );
  }
  if (await exists(file)) {
    throw new CorralError(
      `the backup target ${file} exists: choose a new file, or remove it first`,
      { vm: vm.name },
    );
  }
  const jobs = { timeout: options.timeout ?? 600_000, signal: options.signal };
  const target = await createImage(vm, file, { size: disk.size, backing: base }, jobs);
  try {
    const id = newJobId();
    const since = vm.mark();
    const copy = {
      "job-id": id,
      device: disk.node,
      target: target.node,
      sync,
      "auto-dismiss": false,
      ...(sync === "incremental" ? { bitmap } : {}),
    };
    if (sync === "full") {
      // The bitmap starts (again) at the very moment of the full copy: one transaction.
      const data = { node: disk.node, name: bitmap };
      const track = disk.bitmaps.includes(bitmap)
        ? { type: "block-dirty-bitmap-clear" as const, data }
        : { type: "block-dirty-bitmap-add" as const, data };
      await vm.execute("transaction", {
        actions: [track, { type: "blockdev-backup" as const, data: copy }],
      }, jobs);
    } else await vm.execute("blockdev-backup", copy, jobs);
    const job = await awaitJob(vm, id, "blockdev-backup", since, jobs);
    last.set(disk.device, file);
    LAST.set(vm, last);
    return {
      file,
      disk: disk.device,
      sync,
      ...(base ? { base } : {}),
      bytes: job["total-progress"],
      job,
    };
  } catch (error) {
    await target.close();
    await Deno.remove(file).catch(() => {}); // corral made it: a failed backup leaves nothing
    throw error;
  } finally {
    await target.close();
  }
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
