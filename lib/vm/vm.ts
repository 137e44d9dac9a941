/**
 * `Vm`: one QEMU machine driven over QMP, with actions that finish when
 * their effect is seen (`pause()` resolves on STOP) and event waits that
 * never miss an event that came early.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { formatMs, prefix } from "../_text.ts";
import type { QmpAddress } from "../qmp/address.ts";
import {
  type ExecuteOptions,
  QmpClient,
  type QmpConnectOptions,
  type QmpGreeting,
} from "../qmp/client.ts";
import { DEFAULT_TIMEOUT, type EventMatch, type QmpEvent } from "../qmp/journal.ts";

/** A VM's run state as `query-status` reports it. */
export type RunState =
  | "debug"
  | "inmigrate"
  | "internal-error"
  | "io-error"
  | "paused"
  | "postmigrate"
  | "prelaunch"
  | "finish-migrate"
  | "restore-vm"
  | "running"
  | "save-vm"
  | "shutdown"
  | "suspended"
  | "watchdog"
  | "guest-panicked"
  | "colo";

/** The reply of `query-status`. */
export interface StatusInfo {
  status: RunState;
  running: boolean;
  singlestep: boolean;
}

/** Options of {@linkcode Vm.connect}. */
export interface VmConnectOptions extends QmpConnectOptions {}

/** Options of an action such as {@linkcode Vm.prototype.pause}. */
export interface ActionOptions {
  /** Deadline for the whole action in milliseconds. Default: the VM's `commandTimeout` (30 s). */
  timeout?: number;
  /** Abandons the wait (what was sent may still take effect). */
  signal?: AbortSignal;
}

/** Options of {@linkcode Vm.prototype.waitFor}. */
export interface WaitForOptions {
  /** What the event's data must contain: a subset pattern or a predicate. */
  match?: EventMatch;
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
export interface EventsOptions {
  /** What the event's data must contain. */
  match?: EventMatch;
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
 * on this VM (every command but `query-*` ones), so both of these work and
 * neither is fooled by an older event:
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
 * import { Vm } from "./vm.ts";
 * import { spawnQemu } from "../../tests/_qemu.ts";
 * import assert from "node:assert/strict";
 *
 * await using qemu = await spawnQemu();
 * await using vm = await Vm.connect(qemu.address, { name: "a" });
 * await vm.pause();
 * assert.equal((await vm.status()).status, "paused");
 * await vm.resume();
 * assert.equal((await vm.status()).running, true);
 * ```
 */
export class Vm {
  #client: QmpClient;
  #commandMark = 0;
  #timeout: number;

  /** Wrap a connected client. Most users call {@linkcode Vm.connect}. */
  constructor(client: QmpClient, options: { commandTimeout?: number } = {}) {
    this.#client = client;
    this.#commandMark = client.journal.cursor;
    this.#timeout = options.commandTimeout ?? DEFAULT_TIMEOUT;
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

  /** Whether the QMP connection is open. */
  get connected(): boolean {
    return this.#client.state === "running";
  }

  /**
   * Send any QMP command and resolve to its return value.
   *
   * @throws {QmpError} QEMU refused it; the error keeps QEMU's class.
   * @throws {TimeoutError} No reply in time; the command may still be running.
   * @throws {ConnectionClosedError} The connection closed.
   */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown> {
    if (!command.startsWith("query-")) this.#commandMark = this.#client.journal.cursor;
    return this.#client.execute(command, args, options);
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
  async status(options?: ExecuteOptions): Promise<StatusInfo> {
    return await this.execute("query-status", undefined, options) as StatusInfo;
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
    const since = this.#commandMark = this.mark();
    await this.#client.execute("system_reset", undefined, deadline.next());
    await this.waitFor("RESET", { since, ...deadline.next() });
    if ((await this.status(deadline.next())).status === "prelaunch") {
      await this.resume(deadline.next());
    }
  }

  /** Ask the guest to power down (ACPI); resolves once POWERDOWN is seen. */
  async powerdown(options: ActionOptions = {}): Promise<void> {
    const deadline = this.#deadline(options);
    const since = this.#commandMark = this.mark();
    await this.#client.execute("system_powerdown", undefined, deadline.next());
    await this.waitFor("POWERDOWN", { since, ...deadline.next() });
  }

  /** Inject an NMI into every CPU (`inject-nmi`). */
  async injectNmi(options: ExecuteOptions = {}): Promise<void> {
    await this.execute("inject-nmi", undefined, options);
  }

  /** Make QEMU exit (`quit`); resolves once the connection has closed. */
  async quit(options: ActionOptions = {}): Promise<void> {
    const deadline = this.#deadline(options);
    await this.execute("quit", undefined, deadline.next());
    await deadline.race(this.#client.done, "the connection to close after quit");
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
  waitFor(event: string | readonly string[], options: WaitForOptions = {}): Promise<QmpEvent> {
    return this.#client.journal.waitFor(
      { names: event, match: options.match },
      {
        since: options.since ?? this.#commandMark,
        timeout: options.timeout ?? this.#timeout,
        signal: options.signal,
      },
    );
  }

  /**
   * Events as they arrive, optionally only some names. Ends when the client
   * closes the VM; throws {@linkcode ConnectionClosedError} when QEMU goes away.
   */
  events(
    event?: string | readonly string[],
    options: EventsOptions = {},
  ): AsyncGenerator<QmpEvent, void, undefined> {
    return this.#client.journal.events(
      { names: event, match: options.match },
      { since: options.since ?? this.#commandMark, signal: options.signal },
    );
  }

  /** The kept events after `since` (default 0: all kept), optionally only some names. */
  history(event?: string | readonly string[], since = 0): QmpEvent[] {
    return this.#client.journal.history({ names: event }, since);
  }

  /** Close the QMP connection; QEMU keeps running. */
  async close(): Promise<void> {
    await this.#client.close();
  }

  /** Same as {@linkcode Vm.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #toggle(
    command: string,
    event: string,
    running: boolean,
    options: ActionOptions,
  ): Promise<void> {
    const deadline = this.#deadline(options);
    const since = this.#commandMark = this.mark();
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

  /** Wait for `promise` within what is left of the deadline. */
  async race(promise: Promise<unknown>, what: string): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              `${prefix(this.#vm)}no sign of ${what} within ${formatMs(this.#timeout)}`,
              {
                vm: this.#vm,
                timeout: this.#timeout,
              },
            ),
          ),
        this.next().timeout,
      );
    });
    try {
      await Promise.race([promise, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
