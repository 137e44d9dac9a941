/**
 * What corral launched, as the runtime directory records it: every VM's
 * directory holds `corral.json` (name, QEMU pid, the corral process that
 * owns it, socket paths). `listVms()` finds the VMs still running after
 * their corral ended (kept with `--keep`, or orphaned); `collectGarbage()`
 * stops orphans and removes the directories of dead VMs.
 *
 * @module
 */

import { delay } from "../_async.ts";
import { runtimeBase } from "../_runtime_dir.ts";
import { processes, type ProcessInfo } from "./_procs.ts";

/** The record a launched VM leaves in its directory. */
export interface VmRecord {
  /** The VM's name. */
  name: string;
  /** QEMU's pid, once started. */
  pid?: number | undefined;
  /** The pid of the corral process that launched it. */
  owner: number;
  /** When the VM was launched (ISO 8601). */
  started: string;
  /** Launched to outlive its corral (`--keep`). */
  keep: boolean;
  /** The QMP socket. */
  qmp: string;
  /** The serial console socket, if the VM has one. */
  console?: string | undefined;
  /** The SSH host QEMU runs on (its sockets here are forwards), if not this machine. */
  host?: string | undefined;
}

/** A VM directory and what became of it. */
export interface VmEntry extends VmRecord {
  /** The VM's private directory. */
  dir: string;
  /**
   * `owned`: its corral still runs; `kept`: it outlives its corral on
   * purpose; `orphaned`: its corral died and it runs on; `dead`: QEMU is
   * gone and only the directory is left.
   */
  state: "owned" | "kept" | "orphaned" | "dead";
  /** Milliseconds since it was launched. */
  ageMs: number;
}

const RECORD = "corral.json";

/** Write `record` into `dir` (0600). */
export async function writeRecord(dir: string, record: VmRecord): Promise<void> {
  await Deno.writeTextFile(`${dir}/${RECORD}`, JSON.stringify(record) + "\n", { mode: 0o600 });
}

/**
 * Every VM directory in the runtime directory with its state.
 *
 * @example
 * ```ts
 * import { listVms } from "./registry.ts";
 * for (const vm of await listVms()) console.log(vm.name, vm.pid, vm.state);
 * ```
 */
export async function listVms(): Promise<VmEntry[]> {
  const base = await runtimeBase();
  const running = await processes();
  const entries: VmEntry[] = [];
  for await (const item of Deno.readDir(base)) {
    if (!item.isDirectory) continue;
    const dir = `${base}/${item.name}`;
    const record = await readRecord(dir);
    if (!record) continue;
    const state = stateOf(record, dir, running);
    entries.push({ ...record, dir, state, ageMs: age(record.started) });
  }
  return entries.sort((a, b) => a.started.localeCompare(b.started));
}

/** What {@linkcode collectGarbage} did. */
export interface GcResult {
  /** Orphaned (and, with `all`, kept) VMs that were stopped. */
  stopped: VmEntry[];
  /** Directories removed. */
  removed: string[];
}

/**
 * Stop orphaned VMs (and kept ones too with `all`), and remove the
 * directories of VMs that are no longer running. VMs whose corral still
 * runs are never touched.
 */
export async function collectGarbage(options: { all?: boolean } = {}): Promise<GcResult> {
  const result: GcResult = { stopped: [], removed: [] };
  for (const entry of await listVms()) {
    const stop = entry.state === "orphaned" || (options.all && entry.state === "kept");
    if (stop && entry.pid !== undefined) {
      await terminate(entry.pid);
      result.stopped.push(entry);
    }
    if (stop || entry.state === "dead") {
      await Deno.remove(entry.dir, { recursive: true }).catch(() => {});
      result.removed.push(entry.dir);
    }
  }
  return result;
}

async function readRecord(dir: string): Promise<VmRecord | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${RECORD}`)) as VmRecord;
  } catch {
    return undefined;
  }
}

function stateOf(
  record: VmRecord,
  dir: string,
  running: Map<number, ProcessInfo>,
): VmEntry["state"] {
  // A reused owner pid only makes a VM look owned, so it is left alone: the safe mistake.
  const ownerAlive = running.has(record.owner);
  const qemuAlive = record.pid !== undefined &&
    (running.get(record.pid)?.args.includes(dir) ?? false);
  if (qemuAlive) return ownerAlive ? "owned" : record.keep ? "kept" : "orphaned";
  // A directory whose owner still runs may be a VM being launched or relaunched.
  return ownerAlive ? "owned" : "dead";
}

function age(started: string): number {
  return Math.max(0, Date.now() - Date.parse(started));
}

async function terminate(pid: number): Promise<void> {
  const signal = (name: Deno.Signal) => {
    try {
      Deno.kill(pid, name);
      return true;
    } catch {
      return false;
    }
  };
  if (!signal("SIGTERM")) return;
  for (let waited = 0; waited < 2000; waited += 50) {
    if (!(await processes()).has(pid)) return;
    await delay(50);
  }
  signal("SIGKILL");
}
