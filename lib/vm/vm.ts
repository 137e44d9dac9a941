/**
 * `Vm`: one QEMU machine driven over QMP, with actions that finish when
 * their effect is seen (`pause()` resolves on STOP) and event waits that
 * never miss an event that came early.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import type { QmpAddress } from "../qmp/address.ts";
import { type ExecuteOptions, QmpClient } from "../qmp/client.ts";
import type { Machine, PanicPolicy } from "./machine.ts";
import {
  migrate,
  type MigrateOptions,
  type MigrationResult,
  type MoveOptions,
  type MoveResult,
  moveVm,
} from "./migrate.ts";
import { type JobInfo, runJob, type RunJobOptions } from "./jobs.ts";
import {
  deleteSnapshot,
  loadSnapshot,
  saveSnapshot,
  type SnapshotOptions,
  type SnapshotResult,
} from "./snapshot.ts";
import { backup, type BackupOptions, type BackupResult } from "./backup.ts";
import {
  type BackupPoint,
  backupSet,
  type BackupSetOptions,
  type BackupSetResult,
  restoreBackup,
  type RestoreOptions,
} from "./backup_set.ts";
import { LOCAL } from "../host/local.ts";
import {
  commitDisk,
  moveDisk,
  snapshotDisk,
  type StoragePlace,
  type StorageResult,
} from "./storage.ts";
import { throttleDisk, type ThrottleOptions } from "./throttle.ts";
import { type DiskFaultOptions, failDisk, healDisk } from "./disk_fault.ts";
import { type CpuLimit, limitCpu } from "./cpu_limit.ts";
import { balloonTo } from "./balloon.ts";
import { forwardPort } from "./forward.ts";
import { screenshot, sendKeys, typeText } from "./screen.ts";

export type { ActionOptions, StatusInfo, VmHandle } from "./handle.ts";
export type {
  CommandArguments,
  CommandName,
  CommandReturn,
  DetachedVm,
  EventName,
  EventsOptions,
  ExecuteRest,
  Liveness,
  QemuVersion,
  RunState,
  ShutdownOptions,
  StopHow,
  Subset,
  TypedEvent,
  TypedMatch,
  VmChange,
  VmConnectOptions,
  VmParts,
  WaitForOptions,
} from "./vm_types.ts";
import type { CommandArguments, VmConnectOptions } from "./vm_types.ts";
import type { ActionOptions, VmHandle } from "./handle.ts";
import { VmLifecycle } from "./lifecycle.ts";
/**
 * A QEMU machine driven over QMP.
 *
 * **Which events a wait sees.** Every event is numbered in a per-VM journal.
 * A wait (or iterator) counts the events after its `since` cursor. By default
 * that is the cursor at the moment the latest state-changing command was sent
 * on this VM (every command but `query-*` ones; before the first, every event
 * since the connection opened), so both of these work and neither is fooled
 * by an older event:
 *
 * ```ts ignore
 * const stopped = vm.waitFor("STOP"); // arm first…
 * await vm.execute("stop");
 * await stopped;
 *
 * await vm.execute("stop");          // …or act, then wait: QEMU sends STOP
 * await vm.waitFor("STOP");          // before the reply, and it still counts
 * ```
 *
 * To wait across several commands, take `const m = vm.mark()` first and pass
 * `{ since: m }`.
 *
 * @example
 * ```ts
 * import { launch } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "a", guest: "none" });
 * await vm.pause();
 * assert.equal((await vm.status()).status, "paused");
 * await vm.resume();
 * assert.equal((await vm.status()).running, true);
 * ```
 */
export class Vm extends VmLifecycle implements VmHandle {
  /** Guest port → loopback port of this machine (see `forward`). */
  #forwards = new Map<number, number>();

  /**
   * Connect to the QMP monitor at `address` (`unix:/path` or `tcp:host:port`).
   *
   * @throws {ConnectError} Nothing listens there (or only a stale socket file).
   * @throws {MonitorBusyError} Another client holds the monitor.
   */
  static async connect(address: string | QmpAddress, options: VmConnectOptions = {}): Promise<Vm> {
    return new Vm(await QmpClient.connect(address, options), options);
  }

  /**
   * Where a migration from `source` reaches this VM's QEMU (launched with
   * `incoming: true`): a unix socket on the same host, TCP across hosts.
   *
   * @throws {CorralError} This VM was not launched by corral.
   */
  incomingUri(source: VmHandle): string {
    const machine = this.requireMachine("receive a migration");
    if (!(source instanceof Vm)) {
      throw new CorralError("cannot receive a migration from a VM corral did not launch", {
        vm: this.name,
      });
    }
    return machine.incomingUri(source.requireMachine("migrate"));
  }

  /** Pause the VM; resolves once STOP is seen, or at once when it was not running. */
  async pause(options: ActionOptions = {}): Promise<void> {
    await this.#toggle("stop", "STOP", false, options);
  }

  /** Resume the VM; resolves once RESUME is seen, or at once when it was running. */
  async resume(options: ActionOptions = {}): Promise<void> {
    await this.#toggle("cont", "RESUME", true, options);
  }

  /**
   * Reset the VM (`system_reset`); resolves once RESET is seen. When QEMU
   * leaves the reset VM in `prelaunch` (as it does after a guest panic), the
   * VM is continued too, and the call resolves once it runs again.
   */
  async reset(options: ActionOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    const since = this.markAction();
    await this.qmp.execute("system_reset", undefined, deadline.next());
    await this.waitFor("RESET", { since, ...deadline.next() });
    if ((await this.status(deadline.next())).status === "prelaunch") {
      await this.resume(deadline.next());
    }
  }

  /** Ask the guest to power down (ACPI); resolves once POWERDOWN is seen. */
  async powerdown(options: ActionOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    const since = this.markAction();
    await this.qmp.execute("system_powerdown", undefined, deadline.next());
    await this.waitFor("POWERDOWN", { since, ...deadline.next() });
  }

  /** Inject an NMI into every CPU (`inject-nmi`). */
  async injectNmi(options: ExecuteOptions = {}): Promise<void> {
    await this.execute("inject-nmi", undefined, options);
  }

  /** Change what QEMU does on a guest panic, reboot, shutdown or watchdog (`set-action`). */
  async setPanicAction(
    actions: PanicPolicy | CommandArguments<"set-action">,
    options?: ExecuteOptions,
  ): Promise<void> {
    const args = typeof actions === "string" ? { panic: actions } : actions;
    await this.execute("set-action", args, options);
  }

  /**
   * Live-migrate this VM to `target`, a VM launched from the same spec with
   * `incoming: true`; resolves with the figures once both sides agree it
   * completed (see `migrate`).
   *
   * @throws {MigrationError} It failed or timed out; this VM runs on.
   */
  migrateTo(target: Vm, options: MigrateOptions = {}): Promise<MigrationResult> {
    return migrate(this, target, options);
  }

  /**
   * Live-migrate this launched VM to a new QEMU started from its own spec
   * (with `changes`, e.g. another `qemu` binary) and drive that one from
   * now on: the same `Vm` object, name, event journal (waits made before
   * see the new QEMU's events), and a new console and agent. The old QEMU
   * is stopped and its directory removed; its console log is kept (see
   * {@linkcode Vm.prototype.consoleLogs}).
   *
   * @throws {MigrationError} It failed or timed out: the destination is
   *   stopped and this VM runs on in its old QEMU.
   *
   * @example
   * ```ts
   * import { launch } from "../../mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using vm = await launch({ name: "mover" });
   * await vm.console.waitFor("READY");
   * const before = vm.pid;
   * const moved = await vm.migrate();
   * assert.equal(moved.to, "mover-m1");
   * assert.notEqual(vm.pid, before);
   * assert.equal((await vm.status()).status, "running");
   * ```
   */
  migrate(options: MoveOptions = {}): Promise<MoveResult> {
    const machine = this.requireMachine("migrate");
    return moveVm(this, machine, options, (target) => this.takeOver(target as Vm), startVm);
  }

  /**
   * Run a job-creating command (`snapshot-save`, `blockdev-backup`, …) and
   * resolve once it concluded without error (see `runJob`).
   *
   * @throws {JobError} The job concluded with an error.
   */
  runJob(
    command: string,
    args: Record<string, unknown>,
    options: RunJobOptions = {},
  ): Promise<JobInfo> {
    return runJob(this, command, args, options);
  }

  /**
   * Save the VM's state and disks as internal snapshot `tag` (on every
   * writable qcow2 disk), freezing the guest's file systems through its
   * agent when it has one (`freeze: "auto"`), and always thawing.
   *
   * @throws {JobError} QEMU's job failed, e.g. `Snapshot 'TAG' already exists`.
   *
   * @example
   * ```ts
   * import { JobError, launch } from "../../mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using vm = await launch({ name: "snap", disks: [{ size: "16M" }] });
   * await vm.saveSnapshot("before");
   * await assert.rejects(vm.saveSnapshot("before"), JobError);
   * await vm.loadSnapshot("before");
   * await vm.deleteSnapshot("before");
   * ```
   */
  saveSnapshot(tag: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    return saveSnapshot(this, tag, options);
  }

  /** Bring the VM back to snapshot `tag` (and thaw a guest saved frozen). */
  loadSnapshot(tag: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    return loadSnapshot(this, tag, options);
  }

  /** Delete snapshot `tag` from the VM's disks. */
  deleteSnapshot(tag: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
    return deleteSnapshot(this, tag, options);
  }

  /**
   * Limit a disk's I/O (`iops`, `bps`; 0 or absent: no limit), as a slow
   * disk would be; resolves to the disk's device name. See {@linkcode throttleDisk}.
   */
  throttleDisk(options: ThrottleOptions = {}): Promise<string> {
    return throttleDisk(this, options);
  }

  /**
   * Make a disk fail the guest's reads or writes with EIO or ENOSPC until
   * {@linkcode Vm.prototype.healDisk}; resolves to the disk's device name.
   * See {@linkcode failDisk}.
   */
  failDisk(options: DiskFaultOptions = {}): Promise<string> {
    return failDisk(this, options);
  }

  /** Take a disk's fault out (and continue a VM it paused). See {@linkcode healDisk}. */
  healDisk(device: string, options: ActionOptions = {}): Promise<void> {
    return healDisk(this, device, options);
  }

  /**
   * Let QEMU run only `percent` of each 100 ms (SIGSTOP/SIGCONT in turn)
   * until the limit is lifted. See {@linkcode limitCpu}.
   */
  limitCpu(percent: number, periodMs?: number): CpuLimit {
    return limitCpu(this, percent, periodMs);
  }

  /**
   * Set the guest's memory through its balloon and wait until the guest got
   * there; resolves to what it had before. See {@linkcode balloonTo}.
   */
  balloonTo(bytes: number, options: ActionOptions = {}): Promise<number> {
    return balloonTo(this, bytes, options);
  }

  /**
   * A loopback port of this machine that reaches the guest's `guestPort`
   * through its host link, made on first use and kept while the VM runs.
   * See {@linkcode forwardPort}.
   */
  async forward(guestPort: number, options: ActionOptions = {}): Promise<number> {
    const known = this.#forwards.get(guestPort);
    if (known !== undefined) return known;
    const port = await forwardPort(this, guestPort, options);
    this.#forwards.set(guestPort, port);
    return port;
  }

  /** The host port forwarded to `guestPort`, if {@linkcode Vm.prototype.forward} made one. */
  forwarded(guestPort: number): number | undefined {
    return this.#forwards.get(guestPort);
  }

  /** Whether corral launched it with a screen (`display: true`). */
  get hasScreen(): boolean {
    return this.machine?.spec.display === true;
  }

  /** Write its screen to `file` as PNG. See {@linkcode screenshot}. */
  screenshot(file: string, options: ActionOptions = {}): Promise<void> {
    return screenshot(this, file, options);
  }

  /** Press keys together: `"ctrl-alt-delete"`. See {@linkcode sendKeys}. */
  sendKeys(combo: string, options: ActionOptions = {}): Promise<void> {
    return sendKeys(this, combo, options);
  }

  /** Type text as a US keyboard would; `\n` is Enter. See {@linkcode typeText}. */
  typeText(text: string, options: ActionOptions = {}): Promise<void> {
    return typeText(this, text, options);
  }

  /**
   * Back up a disk while the guest runs, into a new qcow2 file: `full`, or
   * `incremental` over the previous backup (see `backup`).
   */
  backup(options: BackupOptions): Promise<BackupResult> {
    return backup(this, options);
  }

  /**
   * Move a disk to the new qcow2 file `to` while the guest runs (a mirror,
   * then the switch); a migration or restart later opens that file.
   *
   * @throws {JobError} The mirror failed; the disk stays where it was.
   */
  moveDisk(options: ActionOptions & { disk?: string; to: string }): Promise<StorageResult> {
    return moveDisk(this, options, this.#storagePlace());
  }

  /** Put a new overlay `file` on a disk while the guest runs: it takes the writes from now on. */
  snapshotDisk(options: ActionOptions & { disk?: string; file: string }): Promise<StorageResult> {
    return snapshotDisk(this, options, this.#storagePlace());
  }

  /** Commit a disk's top overlay into the image below, live, and switch back to that image. */
  commitDisk(options: ActionOptions & { disk?: string } = {}): Promise<StorageResult> {
    return commitDisk(this, options, this.#storagePlace());
  }

  /** Back a disk up into a set that lasts across runs, kept where the VM runs (see `backupSet`). */
  backupSet(options: BackupSetOptions): Promise<BackupSetResult> {
    return backupSet(this, options, this.machine?.host ?? LOCAL);
  }

  /** Rebuild a disk from a backup set kept where this VM runs (see `restoreBackup`). */
  restoreBackup(options: RestoreOptions): Promise<BackupPoint & { to: string }> {
    return restoreBackup(options, this.machine?.host ?? LOCAL);
  }

  /** Where this VM's QEMU runs, for a storage job: its files, and where its disks now are. */
  #storagePlace(): StoragePlace {
    const machine = this.machine;
    return {
      moved: (id, file) => machine?.diskMoved(id, file),
      exists: async (path) =>
        machine
          ? (await machine.tool("test", ["-e", path])).success
          : await Deno.lstat(path).then(() => true, () => false),
      host: this.host,
    };
  }

  /**
   * Put the image `file` (read only) in the VM's CD drive (`cdrom` in its
   * spec), or with `undefined` eject what is there; the guest sees the
   * medium change, and a migration or restart keeps it.
   */
  async changeCdrom(file: string | undefined, options: ActionOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    if (file === undefined) {
      await this.qmp.execute("eject", { id: "cdrom", force: true }, deadline.next());
    } else {
      await this.qmp.execute("blockdev-change-medium", {
        id: "cdrom",
        filename: file,
        format: "raw",
        "read-only-mode": "read-only",
      }, deadline.next());
    }
    this.machine?.mediumChanged(file);
  }

  /**
   * Hot-plug a device (`device_add`) and resolve once QEMU lists it under
   * `/machine/peripheral`. A launched VM remembers it: the destination of
   * {@linkcode Vm.prototype.migrate} gets it too, as devices must match.
   */
  async deviceAdd(
    device: { driver: string; id: string } & Record<string, unknown>,
    options: ActionOptions = {},
  ): Promise<void> {
    const deadline = this.deadline(options);
    this.markAction();
    await this.qmp.execute("device_add", device, deadline.next());
    const present = await this.qmp.execute("qom-list", { path: "/machine/peripheral" }, {
      ...deadline.next(),
    }) as { name: string }[];
    if (!present.some((p) => p.name === device.id)) {
      throw new CorralError(`device_add answered, but ${device.id} is not in /machine/peripheral`, {
        vm: this.name,
      });
    }
    this.machine?.hotplugged.device(device);
  }

  /**
   * Add a QOM object (`object-add`: a memory backend for a DIMM, say). A
   * launched VM remembers it, as it does hot-plugged devices.
   */
  async objectAdd(
    object: { "qom-type": string; id: string } & Record<string, unknown>,
    options: ActionOptions = {},
  ): Promise<void> {
    await this.qmp.execute("object-add", object as never, this.deadline(options).next());
    this.machine?.hotplugged.object(object);
  }

  /**
   * Remove a device (`device_del`) and resolve once `DEVICE_DELETED` says it
   * is gone (the command itself returns before, for PCI after the guest agreed).
   */
  async deviceDel(id: string, options: ActionOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    const since = this.markAction();
    await this.qmp.execute("device_del", { id }, deadline.next());
    await this.waitFor("DEVICE_DELETED", {
      since,
      match: ((data: { device?: string }) => data.device === id) as never,
      ...deadline.next(),
    });
    this.machine?.hotplugged.removed(id);
  }

  async #toggle(
    command: "stop" | "cont",
    event: "STOP" | "RESUME",
    running: boolean,
    options: ActionOptions,
  ): Promise<void> {
    const deadline = this.deadline(options);
    const since = this.markAction();
    await this.qmp.execute(command, undefined, deadline.next());
    if (this.history(event, since).length > 0) return;
    // QEMU sends no event when the VM already was in the wanted state.
    if ((await this.status(deadline.next())).running === running) return;
    await this.waitFor(event, { since, ...deadline.next() });
  }
}

/** Start a machine's QEMU and wrap it in a {@linkcode Vm}; its directory goes when it fails. */
export async function startVm(machine: Machine): Promise<Vm> {
  try {
    const { client, console } = await machine.start(undefined);
    return new Vm(client, { commandTimeout: machine.commandTimeout, machine, console });
  } catch (error) {
    await machine.removeDir();
    throw error;
  }
}
