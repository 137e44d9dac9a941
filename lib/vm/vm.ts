/**
 * `Vm`: one QEMU machine driven over QMP, with actions that finish when
 * their effect is seen (`pause()` resolves on STOP) and event waits that
 * never miss an event that came early.
 *
 * @module
 */

import { ConnectionClosedError, CorralError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { abortable, deadline, MAX_TIMER_MS } from "../_async.ts";
import type { QmpAddress } from "../qmp/address.ts";
import {
  type ExecuteOptions,
  QmpClient,
  type QmpConnectOptions,
  type QmpGreeting,
} from "../qmp/client.ts";
import { DEFAULT_TIMEOUT, type EventMatch, type QmpEvent } from "../qmp/journal.ts";
import type { QmpCommandMap, QmpEventMap, QueryStatusReturnStatus } from "../qmp/qapi.ts";
import { QmpSchema, type SchemaEntry } from "../qmp/schema.ts";
import type { Console } from "./console.ts";
import type { Machine, PanicPolicy } from "./machine.ts";
import { VmAgent } from "../agent/vm_agent.ts";
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

/** A VM's run state as `query-status` reports it. */
export type RunState = QueryStatusReturnStatus;

/** The reply of `query-status`. */
export type { ActionOptions, StatusInfo, VmHandle } from "./handle.ts";
import type { ActionOptions, StatusInfo, VmHandle } from "./handle.ts";

/** A command name this QEMU version's types know. */
export type CommandName = keyof QmpCommandMap;
/** The arguments of command `C`. */
export type CommandArguments<C extends CommandName> = QmpCommandMap[C]["arguments"];
/** The return value of command `C`. */
export type CommandReturn<C extends CommandName> = QmpCommandMap[C]["return"];
/** An event name this QEMU version's types know. */
export type EventName = keyof QmpEventMap;

/** An event with its typed data, as QEMU sent it, plus its journal sequence number. */
export type TypedEvent<E extends EventName> = {
  [K in E]:
    & Omit<QmpEvent, "event" | "data">
    & { event: K }
    & (QmpEventMap[K] extends undefined ? { data?: undefined } : { data: QmpEventMap[K] });
}[E];

/** Any part of `T`, recursively: what a subset match may name. */
export type Subset<T> = T extends readonly (infer U)[] ? readonly Subset<U>[]
  : T extends object ? { [K in keyof T]?: Subset<T[K]> }
  : T;

/** What `data` of a typed wait must contain: a subset pattern, or a predicate. */
export type TypedMatch<D> = Subset<D> | ((data: D, event: QmpEvent) => boolean);

/** The parameters of `vm.execute(command, …)` after the command: arguments (optional when all are), then options. */
export type ExecuteRest<C extends CommandName> = undefined extends CommandArguments<C>
  ? [args?: CommandArguments<C>, options?: ExecuteOptions]
  : [args: CommandArguments<C>, options?: ExecuteOptions];

/** Options of {@linkcode Vm.connect}. */
export interface VmConnectOptions extends QmpConnectOptions {
  /** The guest agent's socket of an attached VM (`unix:/path`), for `vm.agent`. */
  agent?: string | undefined;
}

/** How a VM is doing, as {@linkcode Vm.prototype.liveness} tells. */
export type Liveness = "healthy" | "wedged" | "dead";

/** Options of {@linkcode Vm.prototype.shutdown}. */
/**
 * How a launched VM's QEMU ended at `shutdown`: the guest powered off
 * within its grace, QEMU quit when asked, or it had to be forced
 * (SIGTERM, SIGKILL); `exited` if it had ended already.
 */
export type StopHow = "powered-off" | "quit" | "terminated" | "killed" | "exited";

/** Options of {@linkcode Vm.prototype.shutdown}. */
export interface ShutdownOptions {
  /**
   * How long the guest may take to power down after the ACPI power button,
   * in ms; 0 skips it. Default 5,000. Then `quit`, SIGTERM and SIGKILL
   * follow, a second apart at most.
   */
  grace?: number;
  /** Ends the grace at once (the VM is stopped all the same). */
  signal?: AbortSignal;
}

/** What a Vm is built from; {@linkcode Vm.connect} and `launch` make it. */
export interface VmParts {
  /** Default command deadline, in ms. Default 30,000. */
  commandTimeout?: number | undefined;
  /** The launched QEMU this Vm owns, if corral launched it. */
  machine?: Machine | undefined;
  /** The guest agent's socket, if the VM has one. */
  agent?: string | undefined;
  /** Its serial console, if it has one. */
  console?: Console | undefined;
}

/** A QEMU version, from the greeting. */
export interface QemuVersion {
  /** e.g. 10 */
  major: number;
  /** e.g. 0 */
  minor: number;
  /** e.g. 2 */
  micro: number;
  /** The distribution's package version, e.g. `Debian 1:10.0.2+ds-2`. */
  package: string;
  /** `major.minor`, as releases are named: `"10.0"`. */
  release: string;
}

/** A launched VM left running by {@linkcode Vm.prototype.detach}. */
export interface DetachedVm {
  /** The VM's name. */
  name: string;
  /** QEMU's pid. */
  pid: number;
  /** Its private directory. */
  dir: string;
  /** The QMP socket: `corral shell` or `Vm.connect("unix:" + qmp)`. */
  qmp: string;
  /** The serial console socket, if it has one. */
  console: string | undefined;
}

/** Options of {@linkcode Vm.prototype.waitFor}. */
export interface WaitForOptions<D = Record<string, unknown>> {
  /** What the event's data must contain: a subset pattern or a predicate. */
  match?: TypedMatch<D>;
  /**
   * Only events after this journal cursor count (see {@linkcode Vm.prototype.mark}).
   * Default: the cursor when the latest command that can change state was
   * sent, so an event caused by that command counts even when it arrived
   * before the command's reply.
   */
  since?: number;
  /** Deadline in milliseconds. Default: the VM's `commandTimeout` (30 s). */
  timeout?: number;
  /** Abandons the wait. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Vm.prototype.events}. */
export interface EventsOptions<D = Record<string, unknown>> {
  /** What the event's data must contain. */
  match?: TypedMatch<D>;
  /** Start after this cursor. Default: as for {@linkcode Vm.prototype.waitFor}. */
  since?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

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
export class Vm implements VmHandle {
  #client: QmpClient;
  #commandMark = 0;
  #timeout: number;
  #machine: Machine | undefined;
  #console: Console | undefined;
  #schema: { client: QmpClient; schema: Promise<QmpSchema> } | undefined;
  #trace: QmpClient["trace"];
  #agent: VmAgent | undefined;
  #stopped: StopHow | undefined;

  /** Wrap a connected client. Most users call {@linkcode Vm.connect} or `launch`. */
  constructor(client: QmpClient, parts: VmParts = {}) {
    this.#client = client;
    // Events that arrived while connecting count for the first waits.
    this.#commandMark = 0;
    this.#timeout = parts.commandTimeout ?? DEFAULT_TIMEOUT;
    this.#machine = parts.machine;
    this.#trace = client.trace;
    const agent = parts.agent ??
      (parts.machine?.agentSocket && `unix:${parts.machine.agentSocket}`);
    if (agent) this.#agent = this.#newAgent(agent);
    this.#useConsole(parts.console);
  }

  /**
   * Connect to the QMP monitor at `address` (`unix:/path` or `tcp:host:port`).
   *
   * @throws {ConnectError} Nothing listens there (or only a stale socket file).
   * @throws {MonitorBusyError} Another client holds the monitor.
   */
  static async connect(address: string | QmpAddress, options: VmConnectOptions = {}): Promise<Vm> {
    return new Vm(await QmpClient.connect(address, options), options);
  }

  /** The VM's name. */
  get name(): string {
    return this.#client.name;
  }

  /** The protocol client underneath, for raw protocol work. */
  get client(): QmpClient {
    return this.#client;
  }

  /** QEMU's greeting: version and capabilities. */
  get greeting(): QmpGreeting {
    return this.#client.greeting;
  }

  /**
   * The QEMU this VM runs, from its greeting: `{ major, minor, micro,
   * package, release }`, `release` being `"major.minor"` (e.g. `"10.0"`).
   */
  get qemuVersion(): QemuVersion {
    const { qemu, package: pkg } = this.#client.greeting.version;
    return { ...qemu, package: pkg, release: `${qemu.major}.${qemu.minor}` };
  }

  /**
   * Whether this VM's QEMU has `command` and, given `member`, that argument
   * (a dotted path reaches into nested objects), from its own schema.
   *
   * @example
   * ```ts
   * import { launch } from "../../mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using vm = await launch({ name: "versions", guest: "none" });
   * assert.ok(await vm.supports("set-action", "panic"));
   * assert.equal(await vm.supports("query-stauts"), false);
   * ```
   */
  async supports(command: string, member?: string): Promise<boolean> {
    return (await this.schema()).supports(command, member);
  }

  /** Whether the QMP connection is open. */
  get connected(): boolean {
    return this.#client.state === "running";
  }

  /**
   * A protocol log: called with every QMP message sent (`"->"`) and
   * received (`"<-"`), on this connection and after a relaunch.
   */
  get trace(): QmpClient["trace"] {
    return this.#trace;
  }

  set trace(trace: QmpClient["trace"]) {
    this.#trace = trace;
    this.#client.trace = trace;
  }

  /** Whether corral launched this VM (and so owns its QEMU process). */
  get launched(): boolean {
    return this.#machine !== undefined;
  }

  /** The QEMU process id of a launched VM. */
  get pid(): number | undefined {
    return this.#machine?.process?.pid;
  }

  /** The exit status of a launched VM's QEMU once it has exited. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#machine?.process?.exit;
  }

  /** The last lines a launched VM's QEMU wrote to standard error. */
  get stderr(): string[] {
    return this.#machine?.process?.stderr ?? [];
  }

  /** The directory that holds a launched VM's sockets and `console.log`. */
  get dir(): string | undefined {
    return this.#machine?.dir;
  }

  /**
   * The name of the QEMU instance this VM runs in: its name, or after
   * {@linkcode Vm.prototype.migrate} the destination's (`NAME-m1`, …).
   */
  get instance(): string {
    return this.#machine?.instance ?? this.name;
  }

  /**
   * Where a migration from `source` reaches this VM's QEMU (launched with
   * `incoming: true`): a unix socket on the same host, TCP across hosts.
   *
   * @throws {CorralError} This VM was not launched by corral.
   */
  incomingUri(source: VmHandle): string {
    const machine = this.#requireMachine("receive a migration");
    if (!(source instanceof Vm)) {
      throw new CorralError("cannot receive a migration from a VM corral did not launch", {
        vm: this.name,
      });
    }
    return machine.incomingUri(source.#requireMachine("migrate"));
  }

  /** The SSH host a launched VM runs on, by name; `undefined` here or attached. */
  get host(): string | undefined {
    return this.#machine?.host?.name;
  }

  /** Bring a VM's console log from its SSH host, so that `consoleLogs` names a local copy. */
  async collectLogs(): Promise<void> {
    await this.#machine?.collectLogs();
  }

  /**
   * A launched VM's console logs, oldest first: those of the QEMUs it ran
   * in before live migrations, then the current one's. Empty when attached.
   */
  get consoleLogs(): string[] {
    return this.#machine && this.#console ? this.#machine.consoleLogs : [];
  }

  /** Whether the VM has a guest agent channel (launched with one, or attached with `agent`). */
  get hasAgent(): boolean {
    return this.#agent !== undefined;
  }

  /**
   * The guest agent: `ping`, `exec`, files, freeze and thaw, `shutdown`,
   * `interfaces` (see {@linkcode VmAgent}).
   *
   * @throws {CorralError} The VM has no agent channel: launch it with
   *   `agent: true` (on by default for `builtin:linux`), or attach with `agent`.
   */
  get agent(): VmAgent {
    if (!this.#agent) {
      throw new CorralError(
        "has no guest agent channel: launch it with agent: true (builtin:linux has one), " +
          "or attach with the agent option naming its socket",
        { vm: this.name },
      );
    }
    return this.#agent;
  }

  /**
   * The serial console.
   *
   * @throws {CorralError} The VM has none (attached, or launched with guest `none`).
   */
  get console(): Console {
    if (!this.#console) {
      throw new CorralError(
        `has no serial console: ` +
          (this.#machine ? "it was launched with guest 'none'" : "corral did not launch it"),
        { vm: this.name },
      );
    }
    return this.#console;
  }

  /**
   * Send a QMP command and resolve to its typed return value. Names,
   * members and enum values are checked at compile time against the types
   * generated from QEMU's schema (`lib/qmp/qapi.ts`); for a command those
   * types do not know, use {@linkcode Vm.prototype.executeUntyped}.
   *
   * @throws {QmpError} QEMU refused it; the error keeps QEMU's class.
   * @throws {TimeoutError} No reply in time; the command may still be running.
   * @throws {ConnectionClosedError} The connection closed.
   */
  execute<C extends CommandName>(command: C, ...rest: ExecuteRest<C>): Promise<CommandReturn<C>> {
    const [args, options] = rest;
    return this.executeUntyped(
      command,
      args as Record<string, unknown> | undefined,
      options,
    ) as Promise<
      CommandReturn<C>
    >;
  }

  /** Send any command, typed or not: the escape hatch for what the committed types lack. */
  executeUntyped(
    command: string,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    if (!command.startsWith("query-")) this.#markAction();
    return this.#client.execute(command, args, options);
  }

  /**
   * This VM's own schema (`query-qmp-schema`), fetched once per connection
   * and shared by the VMs whose QEMU greets with the same version and
   * package (the same build): a lab of 200 reads it once.
   */
  schema(options?: ExecuteOptions): Promise<QmpSchema> {
    const client = this.#client;
    if (this.#schema?.client !== client) {
      const { qemu, package: pkg } = client.greeting.version;
      const build = `${qemu.major}.${qemu.minor}.${qemu.micro} ${pkg}`;
      const fetch = () => {
        const own = client.execute("query-qmp-schema", undefined, options)
          .then((entries) => new QmpSchema(entries as SchemaEntry[]));
        SCHEMAS.set(build, own);
        own.catch(() => SCHEMAS.get(build) === own && SCHEMAS.delete(build));
        return own;
      };
      // Another VM's fetch failing (its QEMU died meanwhile) is no reason for this one to.
      const shared = SCHEMAS.get(build);
      const schema = shared ? shared.catch(fetch) : fetch();
      this.#schema = { client, schema };
      schema.catch(() => this.#schema = undefined);
    }
    return this.#schema!.schema;
  }

  /**
   * Check a command and its arguments against this VM's schema.
   *
   * @throws {SchemaError} Naming each unknown command or member and each
   *   value of the wrong type, with the type expected.
   */
  async validate(command: string, args?: Record<string, unknown>): Promise<void> {
    (await this.schema()).validate(command, args, this.name);
  }

  /** Run a human monitor (HMP) command and resolve to its text output, often `""`. */
  async hmp(commandLine: string, options?: ExecuteOptions): Promise<string> {
    const output = await this.execute(
      "human-monitor-command",
      { "command-line": commandLine },
      options,
    );
    return String(output);
  }

  /** The VM's run state (`query-status`). */
  status(options?: ExecuteOptions): Promise<StatusInfo> {
    return this.execute("query-status", undefined, options);
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
    const deadline = this.#deadline(options);
    const since = this.#markAction();
    await this.#client.execute("system_reset", undefined, deadline.next());
    await this.waitFor("RESET", { since, ...deadline.next() });
    if ((await this.status(deadline.next())).status === "prelaunch") {
      await this.resume(deadline.next());
    }
  }

  /** Ask the guest to power down (ACPI); resolves once POWERDOWN is seen. */
  async powerdown(options: ActionOptions = {}): Promise<void> {
    const deadline = this.#deadline(options);
    const since = this.#markAction();
    await this.#client.execute("system_powerdown", undefined, deadline.next());
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
   * Make QEMU exit (`quit`); resolves once the connection has closed and,
   * for a launched VM, the process has exited.
   */
  async quit(options: ActionOptions = {}): Promise<void> {
    const deadline = this.#deadline(options);
    await this.execute("quit", undefined, deadline.next());
    await deadline.race(this.#client.done, "the connection to close after quit");
    const process = this.#machine?.process;
    if (process) await deadline.race(process.status, "QEMU to exit after quit");
  }

  /**
   * Tell whether the VM is `dead` (its process exited, or its connection
   * closed), `wedged` (connected but not answering: an out-of-band
   * `query-yank`, which does not queue behind other commands, got no reply
   * in time) or `healthy`.
   */
  async liveness(options: { timeout?: number } = {}): Promise<Liveness> {
    if (!this.connected || this.exitStatus !== undefined) return "dead";
    const timeout = options.timeout ?? 1000;
    try {
      if (this.#client.oob) {
        await this.#client.execute("query-yank", undefined, { oob: true, timeout });
      } else await this.#client.execute("query-status", undefined, { timeout });
      return "healthy";
    } catch (error) {
      if (error instanceof TimeoutError) return "wedged";
      if (error instanceof ConnectionClosedError) return "dead";
      throw error;
    }
  }

  /**
   * Stop a launched VM for good, politely first: the ACPI power button and
   * `grace` ms for the guest to power off, then `quit`, then SIGTERM, then
   * SIGKILL. Resolves once QEMU has exited; the VM can be relaunched.
   * For an attached VM it only closes the connection.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<Deno.CommandStatus | undefined> {
    const process = this.#machine?.process;
    if (!process) {
      await this.close();
      return undefined;
    }
    const grace = options.grace ?? 5000;
    this.#stopped = process.exit ? "exited" : undefined;
    if (!process.exit && this.connected && grace > 0) {
      await this.#client.execute("system_powerdown", undefined, { timeout: 1000 }).catch(() => {});
      // Interrupted, the grace ends at once: the VM is still stopped, only sooner.
      const graceEnded = abortable(process.exited(grace), options.signal).catch(() => false);
      if (await graceEnded) this.#stopped = "powered-off";
    }
    if (!process.exit && this.connected) {
      await this.#client.execute("quit", undefined, { timeout: 1000 }).catch(() => {});
      if (await process.exited(1000)) this.#stopped ??= "quit";
    }
    const status = await process.terminate(1000);
    this.#stopped ??= status.signal === "SIGKILL" ? "killed" : "terminated";
    await this.#closeConnections();
    return status;
  }

  /** How the last `shutdown` ended QEMU (see {@linkcode StopHow}), once it ran. */
  get stoppedHow(): StopHow | undefined {
    return this.#stopped;
  }

  /**
   * Wait for a launched VM's QEMU to exit on its own (after a guest
   * poweroff, or a panic with policy `shutdown`) and resolve to its status.
   *
   * @throws {TimeoutError} It did not exit in time; it keeps running.
   */
  async waitExit(options: ActionOptions = {}): Promise<Deno.CommandStatus> {
    const process = this.#requireMachine("wait for the exit of").process!;
    await this.#deadline(options).race(process.status, "QEMU exiting");
    return await process.status;
  }

  /** Kill a launched VM's QEMU with SIGKILL, like pulling the power cord. */
  async kill(): Promise<Deno.CommandStatus> {
    const process = this.#requireMachine("kill").process!;
    process.signal("SIGKILL");
    const status = await process.status;
    await this.#client.done;
    return status;
  }

  /**
   * Start a launched VM's QEMU again from the same spec, after it exited
   * (killed, shut down, or powered off). The event journal and its cursors
   * carry over; a new console connection replaces the old one.
   */
  async relaunch(options: Pick<ActionOptions, "signal"> = {}): Promise<void> {
    const machine = this.#requireMachine("relaunch");
    if (machine.process && !machine.process.exit) {
      throw new CorralError(
        `cannot relaunch: QEMU (pid ${machine.process.pid}) is still running; ` +
          `shutdown() or kill() it first`,
        { vm: this.name },
      );
    }
    await this.#closeConnections();
    this.#markAction();
    const { client, console } = await machine.start(
      this.#client.journal,
      this.#trace,
      1,
      options.signal,
    );
    this.#client = client;
    this.#useConsole(console);
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
    const machine = this.#requireMachine("migrate");
    return moveVm(this, machine, options, (target) => this.#takeOver(target as Vm), startVm);
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
   * Back up a disk while the guest runs, into a new qcow2 file: `full`, or
   * `incremental` over the previous backup (see `backup`).
   */
  backup(options: BackupOptions): Promise<BackupResult> {
    return backup(this, options);
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
    const deadline = this.#deadline(options);
    this.#markAction();
    await this.#client.execute("device_add", device, deadline.next());
    const present = await this.#client.execute("qom-list", { path: "/machine/peripheral" }, {
      ...deadline.next(),
    }) as { name: string }[];
    if (!present.some((p) => p.name === device.id)) {
      throw new CorralError(`device_add answered, but ${device.id} is not in /machine/peripheral`, {
        vm: this.name,
      });
    }
    this.#machine?.plugged(device);
  }

  /**
   * Remove a device (`device_del`) and resolve once `DEVICE_DELETED` says it
   * is gone (the command itself returns before, for PCI after the guest agreed).
   */
  async deviceDel(id: string, options: ActionOptions = {}): Promise<void> {
    const deadline = this.#deadline(options);
    const since = this.#markAction();
    await this.#client.execute("device_del", { id }, deadline.next());
    await this.waitFor("DEVICE_DELETED", {
      since,
      match: ((data: { device?: string }) => data.device === id) as never,
      ...deadline.next(),
    });
    this.#machine?.unplugged(id);
  }

  /**
   * The journal cursor now: pass it as `since` to a later wait so that it
   * counts every event from this moment on.
   */
  mark(): number {
    return this.#client.journal.cursor;
  }

  /**
   * Wait for an event (or one of several) whose data matches.
   *
   * @returns The event as QEMU sent it, with its journal sequence number.
   * @throws {TimeoutError} None came before the deadline.
   * @throws {ConnectionClosedError} The connection closed first; events that
   *   arrived before the close are still seen.
   */
  waitFor<E extends EventName>(
    event: E | readonly E[],
    options: WaitForOptions<QmpEventMap[E]> = {},
  ): Promise<TypedEvent<E>> {
    return this.#client.journal.waitFor(
      { names: event, match: options.match as EventMatch | undefined },
      {
        since: options.since ?? this.#commandMark,
        timeout: options.timeout ?? this.#timeout,
        signal: options.signal,
      },
    ) as Promise<unknown> as Promise<TypedEvent<E>>;
  }

  /**
   * Events as they arrive: all of them (typed loosely, unknown events
   * included, as QEMU sent them), or only the named ones, typed. Ends when
   * the client closes the VM; throws {@linkcode ConnectionClosedError} when
   * QEMU goes away.
   */
  events(): AsyncGenerator<QmpEvent, void, undefined>;
  /** Every event after `options.since` (unknown events included), as QEMU sent them. */
  events(event: undefined, options: EventsOptions): AsyncGenerator<QmpEvent, void, undefined>;
  /** Only the named events, with typed data. */
  events<E extends EventName>(
    event: E | readonly E[],
    options?: EventsOptions<QmpEventMap[E]>,
  ): AsyncGenerator<TypedEvent<E>, void, undefined>;
  events(
    event?: string | readonly string[],
    options: EventsOptions = {},
  ): AsyncGenerator<QmpEvent, void, undefined> {
    return this.#client.journal.events(
      { names: event, match: options.match as EventMatch | undefined },
      { since: options.since ?? this.#commandMark, signal: options.signal },
    );
  }

  /** The kept events after `since` (default 0: all kept), optionally only some names. */
  history(event?: string | readonly string[], since = 0): QmpEvent[] {
    return this.#client.journal.history({ names: event }, since);
  }

  /** Close the QMP connection (and console); QEMU keeps running. */
  async close(): Promise<void> {
    await this.#closeConnections();
  }

  /**
   * Done with the VM: a launched one is shut down (see
   * {@linkcode Vm.prototype.shutdown}; `grace` default 0 here) and its
   * files removed; an attached one is only disconnected.
   */
  async dispose(options: ShutdownOptions = {}): Promise<void> {
    if (!this.#machine) return await this.close();
    await this.shutdown({ grace: options.grace ?? 0 });
    await this.#machine.removeDir();
  }

  /**
   * Leave a launched VM running after this program ends (`--keep`): close
   * the connections, stop watching the process, and tell where to find it
   * again. Returns `undefined` for an attached VM, or for one whose QEMU
   * exited (its files are removed).
   * It dies with this program anyway unless it was launched with `keep`.
   */
  async detach(): Promise<DetachedVm | undefined> {
    await this.close();
    const machine = this.#machine;
    const process = machine?.process;
    if (!machine) return undefined;
    if (!process || process.exit) {
      await machine.removeDir(); // nothing runs there any more
      return undefined;
    }
    process.detach();
    return {
      name: this.name,
      pid: process.pid,
      dir: machine.dir,
      qmp: machine.qmpSocket,
      console: machine.consoleSocket,
    };
  }

  /** Same as {@linkcode Vm.prototype.dispose} with no grace, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /**
   * Drive `target`'s QEMU from now on and stop this VM's old one (left to
   * `target`). The VM keeps one journal: the new QEMU's events so far join
   * it and it records there next, synchronously, so no event falls in
   * between.
   */
  async #takeOver(target: Vm): Promise<void> {
    const journal = this.#client.journal;
    journal.absorb(target.#client.journal);
    this.#client.useJournal(target.#client.useJournal(journal));
    [this.#client, target.#client] = [target.#client, this.#client];
    [this.#machine, target.#machine] = [target.#machine, this.#machine];
    // The new QEMU's agent channel, watched for halts through this VM (and its journal).
    const agent = target.#agent;
    target.#agent = this.#agent;
    this.#agent = agent && this.#newAgent(agent.address);
    agent?.close();
    const console = this.#console;
    this.#useConsole(target.#console);
    target.#useConsole(console);
    this.#client.trace = this.#trace;
    this.#schema = target.#schema = undefined;
    await this.#machine!.inheritLogs(target.#machine!);
    await target.dispose();
  }

  #newAgent(address: string): VmAgent {
    return new VmAgent(address, this.name, (signal) => this.#halted(signal));
  }

  /** Resolves when the VM stops running from now on: a panic, a shutdown, or QEMU gone. */
  async #halted(signal: AbortSignal): Promise<string> {
    try {
      const event = await this.#client.journal.waitFor(
        { names: ["GUEST_PANICKED", "SHUTDOWN"] },
        { since: this.mark(), signal, timeout: MAX_TIMER_MS },
      );
      return event.event === "GUEST_PANICKED" ? "panicked" : "shut down";
    } catch (error) {
      if (error instanceof ConnectionClosedError) return "is gone (its QEMU connection closed)";
      return await new Promise<never>(() => {}); // the watch was dropped
    }
  }

  #useConsole(console: Console | undefined): void {
    this.#console = console;
    if (console) console.onSend = () => this.#markAction();
  }

  #markAction(): number {
    this.#console?.markAction();
    return this.#commandMark = this.mark();
  }

  async #closeConnections(): Promise<void> {
    this.#agent?.close();
    await this.#client.close();
    await this.#console?.close();
  }

  #requireMachine(what: string): Machine {
    if (!this.#machine) {
      throw new CorralError(`cannot ${what}: corral did not launch this VM`, {
        vm: this.name,
      });
    }
    return this.#machine;
  }

  async #toggle(
    command: "stop" | "cont",
    event: "STOP" | "RESUME",
    running: boolean,
    options: ActionOptions,
  ): Promise<void> {
    const deadline = this.#deadline(options);
    const since = this.#markAction();
    await this.#client.execute(command, undefined, deadline.next());
    if (this.history(event, since).length > 0) return;
    // QEMU sends no event when the VM already was in the wanted state.
    if ((await this.status(deadline.next())).running === running) return;
    await this.waitFor(event, { since, ...deadline.next() });
  }

  #deadline(options: ActionOptions): Deadline {
    return new Deadline(this.name, options.timeout ?? this.#timeout, options.signal);
  }
}

/** Schemas by QEMU build (version and package), shared by the VMs of that build. */
const SCHEMAS = new Map<string, Promise<QmpSchema>>();

/** One deadline shared by the steps of an action. */
class Deadline {
  #end: number;
  #timeout: number;
  #vm: string;
  #signal: AbortSignal | undefined;

  constructor(vm: string, timeout: number, signal: AbortSignal | undefined) {
    this.#vm = vm;
    this.#timeout = timeout;
    this.#end = performance.now() + timeout;
    this.#signal = signal;
  }

  /** Options for the next step: what is left of the deadline. */
  next(): { timeout: number; signal?: AbortSignal } {
    const timeout = Math.max(0, this.#end - performance.now());
    return this.#signal ? { timeout, signal: this.#signal } : { timeout };
  }

  /** Wait for `promise` within what is left of the deadline, or until the signal aborts. */
  async race(promise: Promise<unknown>, what: string): Promise<void> {
    await deadline(promise, this.next().timeout, {
      signal: this.#signal,
      onTimeout: () =>
        new TimeoutError(`no sign of ${what} within ${formatMs(this.#timeout)}`, {
          vm: this.#vm,
          timeout: this.#timeout,
        }),
    });
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
