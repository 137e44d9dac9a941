/**
 * `VmMonitor`: a VM as its QMP monitor sees it — typed commands, its own
 * schema (fetched once per QEMU build), and event waits that count from
 * the last command that acted, so that an event that came early is never
 * missed. `Vm` adds the QEMU process, console, agent and operations.
 *
 * @module
 */

import { DEFAULT_TIMEOUT, type EventMatch, type QmpEvent } from "../qmp/journal.ts";
import type { ExecuteOptions, QmpClient, QmpGreeting } from "../qmp/client.ts";
import type { QmpEventMap } from "../qmp/qapi.ts";
import { QmpSchema, type SchemaEntry } from "../qmp/schema.ts";
import { Deadline } from "./_deadline.ts";
import type { ActionOptions, StatusInfo } from "./handle.ts";
import type {
  CommandName,
  CommandReturn,
  EventName,
  EventsOptions,
  ExecuteRest,
  QemuVersion,
  TypedEvent,
  WaitForOptions,
} from "./vm_types.ts";

/** Schemas by QEMU build (version and package), shared by the VMs of that build. */
const SCHEMAS = new Map<string, Promise<QmpSchema>>();

/** A VM's QMP monitor: commands, schema, events. See {@linkcode Vm}. */
export class VmMonitor {
  /** The QMP client the VM is driven through (another after a live migration). */
  protected qmp: QmpClient;
  #commandMark = 0;
  /** The default deadline of a command or wait, in ms. */
  protected commandTimeout: number;
  #schema: { client: QmpClient; schema: Promise<QmpSchema> } | undefined;
  #trace: QmpClient["trace"];

  /** Drive QEMU through `client`; waits and commands default to `commandTimeout` ms. */
  constructor(client: QmpClient, commandTimeout: number | undefined) {
    this.qmp = client;
    // Events that arrived while connecting count for the first waits.
    this.#commandMark = 0;
    this.commandTimeout = commandTimeout ?? DEFAULT_TIMEOUT;
    this.#trace = client.trace;
  }

  /** The VM's name. */
  get name(): string {
    return this.qmp.name;
  }

  /** The protocol client underneath, for raw protocol work. */
  get client(): QmpClient {
    return this.qmp;
  }

  /** QEMU's greeting: version and capabilities. */
  get greeting(): QmpGreeting {
    return this.qmp.greeting;
  }

  /**
   * The QEMU this VM runs, from its greeting: `{ major, minor, micro,
   * package, release }`, `release` being `"major.minor"` (e.g. `"10.0"`).
   */
  get qemuVersion(): QemuVersion {
    const { qemu, package: pkg } = this.qmp.greeting.version;
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
    return this.qmp.state === "running";
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
    this.qmp.trace = trace;
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
    if (!command.startsWith("query-")) this.markAction();
    return this.qmp.execute(command, args, options);
  }

  /**
   * This VM's own schema (`query-qmp-schema`), fetched once per connection
   * and shared by the VMs whose QEMU greets with the same version and
   * package (the same build): a lab of 200 reads it once.
   */
  schema(options?: ExecuteOptions): Promise<QmpSchema> {
    const client = this.qmp;
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

  /**
   * The journal cursor now: pass it as `since` to a later wait so that it
   * counts every event from this moment on.
   */
  mark(): number {
    return this.qmp.journal.cursor;
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
    return this.qmp.journal.waitFor(
      { names: event, match: options.match as EventMatch | undefined },
      {
        since: options.since ?? this.#commandMark,
        timeout: options.timeout ?? this.commandTimeout,
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
    return this.qmp.journal.events(
      { names: event, match: options.match as EventMatch | undefined },
      { since: options.since ?? this.#commandMark, signal: options.signal },
    );
  }

  /** The kept events after `since` (default 0: all kept), optionally only some names. */
  history(event?: string | readonly string[], since = 0): QmpEvent[] {
    return this.qmp.journal.history({ names: event }, since);
  }

  /** Start counting events from now for the next waits (a command that acts was sent). */
  protected markAction(): number {
    this.actionMarked();
    return this.#commandMark = this.mark();
  }

  /** Called when an action is marked (the console marks its lines too). */
  protected actionMarked(): void {}

  /** Forget the schema (the QEMU changed). */
  protected forgetSchema(): void {
    this.#schema = undefined;
  }
  /** @ignore */
  protected deadline(options: ActionOptions): Deadline {
    return new Deadline(this.name, options.timeout ?? this.commandTimeout, options.signal);
  }
}
