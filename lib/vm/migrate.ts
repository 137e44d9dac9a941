/**
 * Live migration between two VMs corral launched: the destination from the
 * same spec with `incoming: true`. Capabilities are set on both sides (the
 * `events` capability first: without it a migration sends no MIGRATION
 * events and a wait would never end), the stream goes over a unix socket in
 * the destination's directory, and the call resolves once both sides agree
 * it completed, with `query-migrate`'s figures. On failure or at the
 * deadline the migration is cancelled and the source is left running.
 *
 * @module
 */

import { MigrationError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import type { LaunchSpec, Machine } from "./machine.ts";
import type { VmHandle as Vm } from "./handle.ts";
import { migrationEnd } from "./_migration.ts";
import { upgradeChanges } from "./_upgrade.ts";
import { copyStorage, type StorageCopy } from "./_copy_storage.ts";
import { disksOf } from "./_block.ts";
import { diskIds, type DiskSpec } from "./spec.ts";
import { deadlineOf, type ProgressWatch, watchProgress } from "./_converge.ts";

/** Options of {@linkcode migrate}. */
export interface MigrateOptions {
  /** `precopy` (default) or `postcopy` (switched to after `postcopyAfter` ms of precopy). */
  mode?: "precopy" | "postcopy";
  /** With postcopy: how long precopy runs first, in ms. Default 1,000. */
  postcopyAfter?: number;
  /** Bytes per second; QEMU's default is low. Default 1 GiB/s. */
  maxBandwidth?: number;
  /** The longest pause allowed at the switch-over, in ms (QEMU's default 300). */
  downtimeLimit?: number;
  /** Deadline for the whole migration, in ms. Default 120,000. */
  timeout?: number;
  /** Throttle the guest's CPUs while it dirties memory faster than it is sent (QEMU's auto-converge). */
  autoConverge?: boolean;
  /**
   * Cancel the migration when the RAM still to send has not shrunk for
   * this long, in ms (KubeVirt's `progressTimeout`): a link that carries
   * nothing, a guest that never lets it converge. Default: no such watch.
   */
  stallTimeout?: number;
  /**
   * A deadline of this many ms per GiB of guest memory, when shorter than
   * `timeout` (KubeVirt's `completionTimeoutPerGiB`).
   */
  deadlinePerGib?: number;
  /**
   * Abandons the migration: it is not started, or it is cancelled, and the
   * source runs on, before the call rejects.
   */
  signal?: AbortSignal;
}

/** What the migration took (from the source's `query-migrate`). */
export interface MigrationResult {
  /** The whole migration, ms. */
  totalTimeMs: number;
  /** The guest's pause at the switch-over, ms. */
  downtimeMs: number;
  /** Setup, ms. */
  setupTimeMs: number;
  /** RAM passes (dirty-sync count). */
  passes: number;
  /** RAM bytes transferred. */
  bytes: number;
  /** Whether postcopy was used. */
  postcopy: boolean;
}

/** Options of `vm.migrate()`: a migration to a new QEMU that the VM then runs in. */
export interface MoveOptions extends MigrateOptions {
  /** The new QEMU instance's name. Default: the VM's with `-m1`, `-m2`, … */
  instance?: string;
  /** Changes to the spec for the new QEMU (another `qemu` binary, say); devices must match. */
  changes?: Partial<LaunchSpec>;
  /**
   * Copy the VM's disks to the destination while it runs (an NBD mirror of
   * each, then the machine state), for a move to a host without the disk
   * files: the destination ends with disks of its own; the source's go
   * only with it, after success. Default `false`.
   */
  copyStorage?: boolean;
  /**
   * Move onto this QEMU build (a path), the machine type the VM runs pinned
   * (so 7.2 → 10.0 works); a move to an older build or one without that
   * machine type is refused before anything stops.
   */
  qemu?: string;
}

/** What `vm.migrate()` did: the migration's figures, and which instances. */
export interface MoveResult extends MigrationResult {
  /** The instance the VM left. */
  from: string;
  /** The instance it runs in now. */
  to: string;
  /** Its QEMU's pid now. */
  pid: number;
  /** Moved onto another QEMU build (`qemu`): the machine type pinned there. */
  machine?: string;
  /** With `copyStorage`: the disk bytes the mirrors copied. */
  storageBytes?: number;
}

/**
 * Start a destination from `machine`'s spec (with `start`), migrate `vm`
 * there, and hand the VM over (`takeOver` swaps the QEMUs and stops the old
 * one). On failure the destination is stopped and `vm` runs on.
 */
export async function moveVm(
  vm: Vm,
  machine: Machine,
  options: MoveOptions,
  takeOver: (target: Vm) => Promise<void>,
  start: (machine: Machine) => Promise<Vm>,
): Promise<MoveResult> {
  const from = machine.instance;
  const to = options.instance ?? nextInstance(from);
  const timeout = options.timeout ?? 120_000;
  // One deadline for the whole move: starting the destination counts too.
  const expiry = new AbortController();
  const timer = setTimeout(
    () => expiry.abort(new TimeoutError(`passed its deadline`, { vm: vm.name, timeout })),
    timeout,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, expiry.signal]) : expiry.signal;
  const started = performance.now();
  try {
    const changes = options.qemu === undefined ? options.changes : {
      ...options.changes,
      ...await upgradeChanges(vm, options.qemu, (program, args) => machine.tool(program, args)),
    };
    const copying = options.copyStorage === true;
    const twinChanges = copying ? { ...changes, disks: await currentDisks(vm, machine) } : changes;
    let target: Vm;
    try {
      // The destination gets the devices hot-plugged into the source too: they must match.
      target = await start(await machine.twin(to, twinChanges, signal, copying));
    } catch (error) {
      const why = signal.aborted
        ? `was not started: ${stopped(signal.reason, timeout)}`
        : `could not be started: ${(error as Error).message}`;
      throw new MigrationError(`the destination ${to} ${why}; the VM runs on`, {
        vm: vm.name,
        cause: error,
      });
    }
    let result: MigrationResult;
    let copy: StorageCopy | undefined;
    let storageBytes = 0;
    try {
      const left = () => Math.max(1, timeout - (performance.now() - started));
      if (copying) copy = await copyStorage(vm, target, { timeout: left(), signal });
      result = await migrate(vm, target, { ...options, timeout: left(), signal }, timeout, {
        // The disks are complete on the destination before it may run.
        beforeResume: async () => {
          if (copy) storageBytes = await copy.finish(left());
        },
      });
    } catch (error) {
      await copy?.abort();
      await target.dispose();
      throw error;
    }
    await takeOver(target);
    const pinned = options.qemu === undefined ? {} : { machine: changes!.machine! };
    return { ...result, from, to, pid: vm.pid!, ...pinned, ...(copy ? { storageBytes } : {}) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The source's disks for a destination that gets new ones: those corral
 * made at their size now (a `resize-disk` grew them), the others as given.
 */
async function currentDisks(vm: Vm, machine: Machine): Promise<DiskSpec[]> {
  const sizes = new Map((await disksOf(vm)).map((disk) => [disk.device, disk.size]));
  const ids = diskIds(machine.spec);
  return (machine.spec.disks ?? []).map((disk, i) =>
    "size" in disk && !("file" in disk)
      ? { name: ids[i], size: String(sizes.get(ids[i]!) ?? disk.size) }
      : { ...disk, name: ids[i] }
  );
}

/** Why an abandoned migration stopped: its deadline, or what aborted it. */
function stopped(reason: unknown, timeout: number): string {
  if (reason instanceof TimeoutError) {
    return `the migration did not complete within ${formatMs(timeout)}`;
  }
  return `the migration was interrupted (${
    reason instanceof Error ? reason.message : String(reason ?? "aborted")
  })`;
}

/** `web1` → `web1-m1`, `web1-m1` → `web1-m2`. */
export function nextInstance(instance: string): string {
  const match = /^(.*)-m(\d+)$/.exec(instance);
  return match ? `${match[1]}-m${Number(match[2]) + 1}` : `${instance}-m1`;
}

/**
 * Migrate `source` to `target` (launched with `incoming: true`).
 *
 * @throws {MigrationError} It failed, was cancelled, or passed its deadline;
 *   the source runs again.
 */
export async function migrate(
  source: Vm,
  target: Vm,
  options: MigrateOptions = {},
  /** The deadline to name in messages (a move's whole one); default `options.timeout`. */
  shownTimeout?: number,
  /** `beforeResume`: once both sides completed, before the destination may run. */
  hooks: { beforeResume?: () => Promise<void> } = {},
): Promise<MigrationResult> {
  if (!target.launched) {
    throw new MigrationError("the target must be a VM corral launched (with incoming: true)", {
      vm: source.name,
    });
  }
  const deadline = await deadlineOf(source, options.timeout ?? 120_000, options.deadlinePerGib);
  const timeout = deadline.ms;
  // The deadline named in messages: the caller's whole one, unless deadline-per-gib made it shorter.
  const shown = deadline.why ? timeout : shownTimeout ?? timeout;
  const postcopy = options.mode === "postcopy";
  const capabilities = [
    { capability: "events" as const, state: true },
    ...(postcopy ? [{ capability: "postcopy-ram" as const, state: true }] : []),
    ...(options.autoConverge ? [{ capability: "auto-converge" as const, state: true }] : []),
  ];
  const wasRunning = (await source.status()).running;
  const uri = target.incomingUri(source);
  const signal = options.signal;
  const done = (vm: Vm, since: number) => migrationEnd(vm.client.journal, since, timeout, signal);
  let switcher: ReturnType<typeof setTimeout> | undefined;
  let watch: ProgressWatch | undefined;
  try {
    for (const vm of [source, target]) {
      await vm.execute("migrate-set-capabilities", { capabilities });
    }
    await source.execute("migrate-set-parameters", {
      "max-bandwidth": options.maxBandwidth ?? 1024 ** 3,
      ...(options.downtimeLimit !== undefined ? { "downtime-limit": options.downtimeLimit } : {}),
    });
    const sourceMark = source.mark();
    const targetMark = target.mark();
    await target.execute("migrate-incoming", { uri });
    // Past the deadline or interrupted: never start what the caller gave up on.
    signal?.throwIfAborted();
    await source.execute("migrate", { uri });
    if (postcopy) {
      switcher = setTimeout(
        () => source.execute("migrate-start-postcopy").catch(() => {}),
        options.postcopyAfter ?? 1000,
      );
    }
    watch = watchProgress(source, options.stallTimeout);
    const ended = await Promise.race([done(source, sourceMark), watch.stalled]);
    if (ended !== "completed") {
      throw new MigrationError(
        `the migration ${ended}${await failure(source)}${await refusal(target)}`,
        { vm: source.name },
      );
    }
    const arrived = await done(target, targetMark);
    if (arrived !== "completed") {
      throw new MigrationError(
        `the destination reports the migration ${arrived}${await refusal(target)}`,
        { vm: target.name },
      );
    }
    await hooks.beforeResume?.();
    // The destination starts paused (launched with -S); it runs if the source ran.
    if (wasRunning && !(await target.status()).running) await target.resume();
    return await figures(source, postcopy);
  } catch (error) {
    watch?.stop();
    throw await undo(source, target, { error, wasRunning, signal, shown, why: deadline.why });
  } finally {
    watch?.stop();
    clearTimeout(switcher);
  }
}

/** The finished migration's figures, from the source's `query-migrate`. */
async function figures(source: Vm, postcopy: boolean): Promise<MigrationResult> {
  const info = await source.execute("query-migrate");
  return {
    totalTimeMs: info["total-time"] ?? 0,
    downtimeMs: info.downtime ?? 0,
    setupTimeMs: info["setup-time"] ?? 0,
    passes: info.ram?.["dirty-sync-count"] ?? 0,
    bytes: info.ram?.transferred ?? 0,
    postcopy,
  };
}

/**
 * Leave the source as it was after a failed migration: cancel, wait until
 * QEMU says it is over (cancelling takes a moment), and run it again if the
 * migration paused it; never two running copies. Returns the error to
 * throw, saying what is true of the source (a killed one does not run on).
 */
async function undo(
  source: Vm,
  target: Vm,
  why: {
    error: unknown;
    wasRunning: boolean;
    signal: AbortSignal | undefined;
    shown: number;
    /** What the deadline is made of (`deadline-per-gib`), if not `timeout`. */
    why: string;
  },
): Promise<MigrationError> {
  const { error, signal } = why;
  const cancelMark = source.mark();
  await source.execute("migrate_cancel").catch(() => {});
  if (await settled(source, cancelMark) === "completed") {
    await target.execute("stop").catch(() => {});
  }
  const status = await source.status().catch(() => undefined);
  if (why.wasRunning && status && !status.running) await source.resume().catch(() => {});
  const after = status
    ? "the source runs on"
    : `the source QEMU no longer answers${
      source.exitStatus ? ` (it exited with code ${source.exitStatus.code})` : ""
    }`;
  if (error instanceof MigrationError) {
    if (status) return error;
    return new MigrationError(`${error.detail}; ${after}`, { vm: source.name, cause: error });
  }
  const message = error instanceof TimeoutError || signal?.aborted
    ? `${
      stopped(signal?.aborted ? signal.reason : error, why.shown)
    }${why.why}: cancelled, ${after}`
    : `the migration could not run: ${(error as Error).message}; ${after}`;
  return new MigrationError(message, { vm: source.name, cause: error });
}

/** How a migration ended once cancelled: `cancelled`, `failed` or `completed` (it won the race). */
async function settled(source: Vm, since: number): Promise<string> {
  const info = await source.execute("query-migrate").catch(() => undefined);
  const now = info?.status ?? "none";
  if (!["active", "cancelling", "setup", "device", "pre-switchover"].includes(now)) return now;
  return await migrationEnd(source.client.journal, since, 10_000).catch(() => now);
}

async function failure(vm: Vm): Promise<string> {
  const info = await vm.execute("query-migrate").catch(() => undefined);
  return info?.["error-desc"] ? `: ${info["error-desc"]}` : "";
}

/**
 * What the destination said when it refused the stream (a device or RAM
 * mismatch): its own query-migrate, or the words it printed as it exited.
 */
async function refusal(target: Vm): Promise<string> {
  const said = await failure(target);
  if (said) return `; the destination says${said}`;
  await target.waitExit({ timeout: 2000 }).catch(() => {});
  const lines = target.stderr.filter((line) => line.trim() !== "").slice(-3);
  return lines.length > 0 ? `; the destination says: ${lines.join(" / ")}` : "";
}
