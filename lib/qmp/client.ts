/**
 * The QMP protocol client: greeting, capability negotiation, commands routed
 * by id with a deadline each, and events into a bounded journal.
 *
 * Layers, bottom up: {@linkcode parseAddress} and a socket (transport),
 * {@linkcode LineSplitter} (framing), {@linkcode QmpClient} (protocol), and
 * `Vm` (the high-level face most users want).
 *
 * @module
 */

import {
  ArgumentsError,
  ConnectionClosedError,
  CorralError,
  ProtocolError,
  QmpError,
  TimeoutError,
} from "../errors.ts";
import { concat } from "../_bytes.ts";
import { formatMs } from "../_text.ts";
import { deadline } from "../_async.ts";
import { parseAddress, type QmpAddress } from "./address.ts";
import { dialWithin } from "../_dial.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, LineSplitter } from "./framing.ts";
import { DEFAULT_TIMEOUT, EventJournal } from "./journal.ts";
import {
  DEFAULT_CONNECT_TIMEOUT,
  type ExecuteOptions,
  type QmpConnectOptions,
  type QmpGreeting,
  type QmpState,
  type QmpTrace,
} from "./client_types.ts";
import * as wire from "./_message.ts";
import { PendingCommands } from "./_pending.ts";

export * from "./client_types.ts";

const encoder = new TextEncoder();

/**
 * A QMP connection. Most users want `Vm`, built on this; use the client
 * directly for raw protocol work.
 *
 * @example Speak QMP directly to a VM's monitor
 * ```ts
 * import { launch } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "raw", guest: "none" });
 * const client = vm.client; // the QmpClient under the Vm
 * assert.ok(client.greeting.capabilities.includes("oob"));
 * const status = await client.execute("query-status") as { status: string };
 * assert.equal(status.status, "running");
 * ```
 */
export class QmpClient {
  #conn: Deno.Conn;
  #splitter: LineSplitter;
  /** Requests waiting for the write in flight; sent together in one write. */
  #outbox: Uint8Array[] = [];
  #flushing: Promise<void> | undefined;
  #writing = false;
  #name: string;
  #commandTimeout: number;
  #pending: PendingCommands;
  #nextId = 1;
  #state: QmpState = "connecting";
  #journal: EventJournal;
  #greeting: QmpGreeting | undefined;
  #onGreeting = Promise.withResolvers<QmpGreeting>();
  #closeError: ConnectionClosedError | undefined;
  #reading: Promise<void>;
  #oob = false;
  #eventDataAsText: boolean;
  #negotiationTimeout: number | undefined;

  /**
   * Called with every message sent (`"->"`) and received (`"<-"`), as
   * text: for protocol logs. Unset by default, and then costs nothing.
   */
  trace: QmpTrace | undefined;

  /** How many times qmp_capabilities had to be sent again (see the connect notes); usually 0. */
  negotiationRetries = 0;

  private constructor(conn: Deno.Conn, name: string, options: QmpConnectOptions) {
    this.#conn = conn;
    this.#name = name;
    this.trace = options.trace;
    this.#commandTimeout = options.commandTimeout ?? DEFAULT_TIMEOUT;
    this.#pending = new PendingCommands(name, this.#commandTimeout);
    this.#eventDataAsText = options.eventDataAsText ?? false;
    this.#negotiationTimeout = options.negotiationTimeout;
    this.#journal = options.journal ?? new EventJournal({
      vm: name,
      capacity: options.journalSize,
      timeout: this.#commandTimeout,
    });
    this.#journal.reopen();
    this.#splitter = new LineSplitter(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    // Rejections surface through the greeting, pending commands and waiters.
    this.#onGreeting.promise.catch(() => {});
    this.#reading = this.#readLoop();
  }

  /**
   * Connect to QEMU at `address` (`unix:/path` or `tcp:host:port`), read its
   * greeting and negotiate capabilities (enabling `oob` when offered).
   *
   * @throws {ConnectError} When nothing listens at the address.
   * @throws {MonitorBusyError} When QEMU sends no greeting before the
   *   deadline, as it does while another client holds the monitor.
   * @throws {ProtocolError} When the peer does not speak QMP.
   * @throws {ConnectionClosedError} When QEMU closes the connection first.
   */
  static async connect(
    address: string | QmpAddress,
    options: QmpConnectOptions = {},
  ): Promise<QmpClient> {
    const parsed = typeof address === "string" ? parseAddress(address) : address;
    const name = options.name ?? (typeof address === "string" ? address : JSON.stringify(address));
    const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
    const signal = options.signal;
    signal?.throwIfAborted();
    let client: QmpClient | undefined;
    const end = performance.now() + timeout;
    const within = <T>(promise: Promise<T>) =>
      deadline(promise, end - performance.now(), {
        signal,
        onTimeout: () =>
          (client && client.#noGreetingError(timeout)) ??
            new TimeoutError(
              client
                ? `QEMU greeted, but did not answer qmp_capabilities within ${formatMs(timeout)}`
                : `could not connect within ${formatMs(timeout)}`,
              { vm: name, timeout },
            ),
      });
    const conn = await dialWithin(parsed, options.name, timeout, {
      signal,
      onTimeout: () =>
        new TimeoutError(`could not connect within ${formatMs(timeout)}`, { vm: name, timeout }),
    });
    try {
      client = new QmpClient(conn, name, options);
      await within(client.#negotiate());
      return client;
    } catch (error) {
      if (client) await client.#shutdown(error, true);
      else conn.close();
      throw error;
    }
  }

  /** The VM's name as used in messages. */
  get name(): string {
    return this.#name;
  }

  /** QEMU's greeting. */
  get greeting(): QmpGreeting {
    return this.#greeting!;
  }

  /** Whether out-of-band execution was negotiated. */
  get oob(): boolean {
    return this.#oob;
  }

  /** Where the connection is in its life. */
  get state(): QmpState {
    return this.#state;
  }

  /** Every event received, numbered; waits and iterators read from it. */
  get journal(): EventJournal {
    return this.#journal;
  }

  /**
   * Record events into `journal` (reopened) from now on, and return the one
   * used until now. Nothing arrives between the two, so no event is lost:
   * a VM that moves to another QEMU keeps one journal this way.
   */
  useJournal(journal: EventJournal): EventJournal {
    const previous = this.#journal;
    this.#journal = journal;
    journal.reopen();
    return previous;
  }

  /** Resolves when the connection has ended, for whatever reason. */
  get done(): Promise<void> {
    return this.#reading;
  }

  /**
   * Send a command and resolve to its `return` value, whatever it is (`""`,
   * `{}`, `0` and `false` included).
   *
   * @throws {QmpError} When QEMU answers with an error.
   * @throws {TimeoutError} When no reply comes before the deadline; the
   *   command may still be running in QEMU.
   * @throws {ConnectionClosedError} When the connection is or becomes closed.
   */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options: ExecuteOptions = {},
  ): Promise<unknown> {
    if (this.#state !== "running" && !(this.#state === "connecting" && command === NEGOTIATE)) {
      return Promise.reject(this.#closedError(`cannot send ${command}`));
    }
    if (options.oob && !this.#oob) {
      return Promise.reject(
        new CorralError(
          `cannot send ${command} out of band: QEMU did not offer the oob capability`,
          { vm: this.#name },
        ),
      );
    }
    const id = this.#nextId;
    const message = args === undefined
      ? { [options.oob ? "exec-oob" : "execute"]: command, id }
      : { [options.oob ? "exec-oob" : "execute"]: command, arguments: args, id };
    // Encode (and refuse what QEMU cannot parse) before anything is registered or sent.
    let text: string;
    try {
      text = wire.encodeRequest(message, command);
    } catch (error) {
      return Promise.reject(
        new ArgumentsError(`cannot send ${command}: ${(error as Error).message}`, {
          vm: this.#name,
          command,
          cause: error,
        }),
      );
    }
    this.#nextId++;
    const reply = this.#pending.track(id, command, args, options);
    this.trace?.("->", text, this.#name);
    this.#send(encoder.encode(text));
    return reply;
  }

  /**
   * Close the connection. Pending commands and waits reject with
   * {@linkcode ConnectionClosedError}; event iterators end.
   */
  async close(): Promise<void> {
    await this.#shutdown(undefined, true);
  }

  /** Same as {@linkcode QmpClient.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #negotiate(): Promise<void> {
    const greeting = await this.#onGreeting.promise;
    this.#greeting = greeting;
    const offersOob = greeting.capabilities.includes("oob");
    const args = offersOob ? { enable: ["oob"] } : undefined;
    // Rarely (seen twice in thousands of launches under load, on 7.2 and 10.0) a QEMU greets and
    // never answers the first qmp_capabilities. Asking again is harmless: a QEMU that did take the
    // first one says negotiation is already complete. The connect deadline bounds the whole,
    // and `negotiationTimeout` the part after the greeting.
    const giveUpAt = performance.now() + (this.#negotiationTimeout ?? Infinity);
    for (;;) {
      try {
        await this.execute(NEGOTIATE, args, { timeout: NEGOTIATE_RETRY_MS });
        break;
      } catch (error) {
        if (error instanceof QmpError && /already complete/i.test(error.desc)) break;
        if (!(error instanceof TimeoutError) || this.#state !== "connecting") throw error;
        if (performance.now() >= giveUpAt) {
          throw new TimeoutError(
            `QEMU greeted, but did not answer qmp_capabilities within ${
              formatMs(this.#negotiationTimeout!)
            }`,
            { vm: this.#name, timeout: this.#negotiationTimeout! },
          );
        }
        this.negotiationRetries++;
      }
    }
    this.#oob = offersOob;
    this.#state = "running";
  }

  /** Queue `bytes`; requests that pile up while a write is in flight go out in one write. */
  #send(bytes: Uint8Array): void {
    this.#outbox.push(bytes);
    if (!this.#writing) this.#flushing = this.#flush();
  }

  async #flush(): Promise<void> {
    // #writing is cleared in the same turn that finds the outbox empty, so a
    // request queued after that starts a new flush: none is ever stranded.
    this.#writing = true;
    try {
      while (this.#outbox.length > 0) {
        const batch = this.#outbox.length === 1 ? this.#outbox[0]! : concat(this.#outbox);
        this.#outbox = [];
        for (let written = 0; written < batch.length;) {
          written += await this.#conn.write(batch.subarray(written));
        }
      }
    } catch (cause) {
      void this.#shutdown(cause);
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(): Promise<void> {
    let cause: unknown;
    const buffer = new Uint8Array(READ_CHUNK);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.#splitter.end();
          break;
        }
        for (const line of this.#splitter.push(buffer.subarray(0, n))) this.#dispatch(line);
      }
    } catch (error) {
      cause = error;
    }
    await this.#shutdown(cause);
  }

  #dispatch(line: string): void {
    this.trace?.("<-", line, this.#name);
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (cause) {
      throw new ProtocolError(
        `QEMU sent bytes that are not JSON: ${wire.excerpt(line)}`,
        {
          vm: this.#name,
          cause,
        },
      );
    }
    if (!wire.isObject(message)) throw this.#unexpected(line);
    if ("event" in message) this.#onEvent(message, line);
    else if ("return" in message || "error" in message) this.#onReply(message, line);
    else if ("QMP" in message && this.#greeting === undefined) {
      this.#onGreetingMessage(message, line);
    } else throw this.#unexpected(line);
  }

  #onEvent(message: Record<string, unknown>, line: string): void {
    const { event, timestamp } = message;
    let data = message.data;
    if (typeof data === "string" && this.#eventDataAsText) {
      try {
        data = JSON.parse(data);
      } catch {
        throw this.#unexpected(line);
      }
    }
    if (
      typeof event !== "string" || !wire.isTimestamp(timestamp) ||
      (data !== undefined && !wire.isObject(data))
    ) {
      throw this.#unexpected(line);
    }
    this.#journal.append(data === undefined ? { event, timestamp } : { event, data, timestamp });
  }

  #onReply(message: Record<string, unknown>, line: string): void {
    const id = message.id;
    if (id === undefined && wire.isObject(message.error)) {
      return this.#onRequestRejected(message.error);
    }
    if (typeof id !== "number") {
      throw new ProtocolError(`QEMU sent a reply without an id: ${wire.excerpt(line)}`, {
        vm: this.#name,
      });
    }
    const pending = this.#pending.get(id);
    // A reply after its deadline or abort, or to an id never sent, finds nobody waiting: the
    // QMP spec says to drop it (the trace has seen it).
    if (!pending) return;
    if ("return" in message) {
      pending.resolve(message.return);
      return;
    }
    const error = wire.isObject(message.error) ? message.error : {};
    pending.reject(
      new QmpError(
        String(error.class ?? "GenericError"),
        String(error.desc ?? wire.excerpt(line)),
        {
          vm: this.#name,
          command: pending.command,
          arguments: pending.arguments,
        },
      ),
    );
  }

  /**
   * QEMU could not parse a request and answered with an error without an id.
   * It queues such an error in order with the in-band requests, so it
   * answers the oldest in-band request still waiting; the connection goes on.
   */
  #onRequestRejected(error: Record<string, unknown>): void {
    const oldest = this.#pending.values().find((pending) => !pending.oob);
    if (!oldest) return; // Nobody to tell: the trace has it.
    oldest.reject(
      new QmpError(
        String(error.class ?? "GenericError"),
        `${String(error.desc ?? "")} (QEMU could not parse the request)`,
        { vm: this.#name, command: oldest.command, arguments: oldest.arguments },
      ),
    );
  }

  #onGreetingMessage(message: Record<string, unknown>, line: string): void {
    const qmp = message.QMP;
    if (!wire.isGreeting(qmp)) {
      throw new ProtocolError(
        `QEMU sent a malformed greeting: ${wire.excerpt(line)}`,
        {
          vm: this.#name,
        },
      );
    }
    this.#onGreeting.resolve(qmp as unknown as QmpGreeting);
  }

  /** End the connection once: fail everything pending, close the socket. */
  async #shutdown(cause: unknown, byClient = false): Promise<void> {
    if (this.#state === "closing" || this.#state === "closed") {
      if (byClient) await this.#reading.catch(() => {});
      return;
    }
    const greeted = this.#greeting !== undefined;
    this.#state = "closing";
    const error = this.#closeError = cause instanceof ConnectionClosedError
      ? cause
      : new ConnectionClosedError(
        `${wire.describeClose(cause, byClient)}` +
          (this.#pending.size > 0
            ? `; ${this.#pending.size} command(s) were waiting for a reply`
            : ""),
        { vm: this.#name, cause },
      );
    this.#onGreeting.reject(
      greeted || cause instanceof ProtocolError ? cause ?? error : new ConnectionClosedError(
        `QEMU closed the connection before its greeting` +
          (cause ? `: ${wire.errorText(cause)}` : ""),
        { vm: this.#name, cause },
      ),
    );
    this.#pending.rejectAll(error);
    this.#journal.close(error, byClient);
    this.#outbox = [];
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#flushing;
    this.#state = "closed";
    if (byClient) await this.#reading.catch(() => {});
  }

  #noGreetingError(timeout: number): CorralError | undefined {
    if (this.#greeting !== undefined) return undefined;
    return wire.noGreeting(this.#name, this.#splitter.pendingBytes, timeout);
  }

  #closedError(what: string): ConnectionClosedError {
    return new ConnectionClosedError(
      `${what}: the connection is ${this.#state}` +
        (this.#closeError ? ` (${this.#closeError.message})` : ""),
      { vm: this.#name, cause: this.#closeError },
    );
  }

  #unexpected(line: string): ProtocolError {
    return new ProtocolError(`QEMU sent an unexpected message: ${wire.excerpt(line)}`, {
      vm: this.#name,
    });
  }
}

const NEGOTIATE = "qmp_capabilities";
/** How long the first qmp_capabilities may take before it is sent again (a reply is ~1 ms here). */
const NEGOTIATE_RETRY_MS = 3000;
/** Bytes read per system call. Small, because each connection keeps its own buffer: a 207 KB reply takes a few dozen reads, which costs less than memory per VM. */
const READ_CHUNK = 8 * 1024;
