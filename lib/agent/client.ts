/**
 * A client for the QEMU guest agent (qemu-ga) on its socket: the QMP
 * framing without a greeting, negotiation, events or reliable ids. It
 * syncs with `guest-sync-delimited` on connect and after every timeout
 * (skipping whatever a previous client left in the channel), sends one
 * command at a time, and matches replies by order.
 *
 * @module
 */

import { ConnectionClosedError, ProtocolError, QmpError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { deadline, delay } from "../_async.ts";
import { parseAddress } from "../qmp/address.ts";
import { dialWithin } from "../_dial.ts";
import { printable } from "../_text.ts";
import { Unread } from "./_unread.ts";

/** Options of {@linkcode GuestAgent.connect}. */
export interface GuestAgentOptions {
  /** The VM's name, for messages. Default: the address. */
  name?: string;
  /** Deadline of the connection and each sync, in ms. Default 10,000. */
  timeout?: number;
  /** Default deadline of each command, in ms. Default 30,000. */
  commandTimeout?: number;
}

/** Options of {@linkcode GuestAgent.prototype.execute}. */
export interface GuestAgentExecuteOptions {
  /** Deadline in ms. Default: the client's `commandTimeout`. */
  timeout?: number;
  /** Abandons the wait (the agent may still run the command). */
  signal?: AbortSignal;
  /**
   * The command answers nothing when it succeeds (`guest-shutdown`, the
   * suspend commands): the channel closing, or the deadline passing, is
   * success.
   */
  noReply?: boolean;
}

const SYNC_BYTE = 0xff;
/** The longest answer accepted (a file read returns 64 KiB as base64). */
const MAX_LINE = 16 * 1024 * 1024;
const encoder = new TextEncoder();

/**
 * A connection to a guest agent.
 *
 * @example
 * ```ts ignore
 * import { GuestAgent } from "@corral/corral";
 * await using agent = await GuestAgent.connect("unix:/run/vm/qga.sock", { name: "db1" });
 * console.log(await agent.execute("guest-info"));
 * ```
 */
export class GuestAgent implements AsyncDisposable {
  #conn: Deno.Conn;
  #name: string;
  #options: GuestAgentOptions;
  /**
   * Bytes read and not consumed yet, bounded (a flooding guest). One read loop fills it, so no
   * abandoned read can eat a reply.
   */
  #unread = new Unread(MAX_LINE + 64 * 1024);
  #arrived = Promise.withResolvers<void>();
  #ended: ConnectionClosedError | undefined;
  /** Bumped by every sync and command: a wait that gave up (deadline) stops consuming. */
  #epoch = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #needsSync = true;
  #closed = false;

  private constructor(conn: Deno.Conn, name: string, options: GuestAgentOptions) {
    this.#conn = conn;
    this.#name = name;
    this.#options = options;
    this.#readLoop();
  }

  /** Connect to the agent's socket (`unix:/path` or `tcp:host:port`) and sync. */
  static async connect(address: string, options: GuestAgentOptions = {}): Promise<GuestAgent> {
    const name = options.name ?? address;
    const timeout = options.timeout ?? 10_000;
    const end = performance.now() + timeout;
    // An agent busy with an earlier client's departure may reset the next connection: try again
    // within the deadline.
    for (;;) {
      const left = Math.max(0, end - performance.now());
      const conn = await dialWithin(parseAddress(address), name, left, {
        onTimeout: () =>
          new TimeoutError(`the guest agent did not accept within ${formatMs(timeout)}`, {
            vm: name,
            timeout,
          }),
      });
      const agent = new GuestAgent(conn, name, { ...options, timeout: left });
      try {
        await agent.#sync();
        agent.#options = options;
        return agent;
      } catch (error) {
        agent.close();
        if (!(error instanceof ConnectionClosedError) || performance.now() >= end) throw error;
        await delay(50);
      }
    }
  }

  /** The VM's name, for messages. */
  get name(): string {
    return this.#name;
  }

  /**
   * Run one agent command and resolve to its `return`.
   *
   * @throws {QmpError} The agent refused it (its error class kept).
   * @throws {TimeoutError} No answer in time; the next command syncs first.
   * @throws {ConnectionClosedError} The channel closed.
   */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options: GuestAgentExecuteOptions = {},
  ): Promise<unknown> {
    const run = this.#queue.then(() => this.#execute(command, args, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Close the channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed by the other side already.
    }
  }

  /** Same as {@linkcode GuestAgent.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #execute(
    command: string,
    args: Record<string, unknown> | undefined,
    options: GuestAgentExecuteOptions,
  ) {
    if (this.#needsSync) await this.#sync();
    const timeout = options.timeout ?? this.#options.commandTimeout ?? 30_000;
    await this.#write(
      encoder.encode(
        JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + "\n",
      ),
    );
    try {
      const reply = await deadline(this.#nextMessage(++this.#epoch), timeout, {
        signal: options.signal,
        onTimeout: () =>
          new TimeoutError(
            `no answer from the guest agent to ${command} within ${formatMs(timeout)}`,
            {
              vm: this.#name,
              timeout,
              command,
            },
          ),
      });
      if ("error" in reply) {
        const error = (reply.error ?? {}) as Record<string, unknown>;
        throw new QmpError(String(error.class ?? "GenericError"), String(error.desc ?? ""), {
          vm: this.#name,
          command,
          arguments: args,
        });
      }
      return reply.return;
    } catch (error) {
      if (
        options.noReply && (error instanceof TimeoutError || error instanceof ConnectionClosedError)
      ) {
        return undefined;
      }
      // A late answer would be taken for the next command's: sync before the next one.
      if (!(error instanceof QmpError)) this.#needsSync = true;
      throw error;
    }
  }

  /**
   * `guest-sync-delimited`: send 0xFF and the request, then skip everything
   * until a 0xFF byte followed by the reply that echoes our id.
   */
  async #sync(): Promise<void> {
    const id = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
    const timeout = this.#options.timeout ?? 10_000;
    const request = JSON.stringify({ execute: "guest-sync-delimited", arguments: { id } });
    await this.#write(new Uint8Array([SYNC_BYTE, ...encoder.encode(`${request}\n`)]));
    const epoch = ++this.#epoch;
    await deadline(
      (async () => {
        await this.#skipPastSyncByte(epoch);
        for (;;) {
          const message = await this.#nextMessage(epoch);
          if (message.return === id) break;
        }
      })(),
      timeout,
      {
        onTimeout: () =>
          new TimeoutError(
            `the guest agent did not answer guest-sync-delimited within ${
              formatMs(timeout)
            }: is it running in the guest?`,
            { vm: this.#name, timeout },
          ),
      },
    );
    this.#needsSync = false;
  }

  /** Read the channel into `#unread` until it ends. */
  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        // Past the bound the bytes are garbage or a line too long: dropped, and the next
        // command syncs again.
        if (!this.#unread.push(buffer.subarray(0, n))) this.#needsSync = true;
        this.#wake();
      }
      this.#ended = new ConnectionClosedError(
        "the guest agent channel closed (the guest stopped, or the agent exited)",
        { vm: this.#name },
      );
    } catch (cause) {
      this.#ended = new ConnectionClosedError("the guest agent channel broke", {
        vm: this.#name,
        cause,
      });
    }
    this.#wake();
  }

  #wake(): void {
    this.#arrived.resolve();
    this.#arrived = Promise.withResolvers<void>();
  }

  /** Wait for more bytes; throws when the channel ended or this wait was given up. */
  async #more(epoch: number): Promise<void> {
    if (this.#ended) throw this.#ended;
    await this.#arrived.promise;
    if (epoch !== this.#epoch) throw new Error("abandoned");
  }

  /**
   * Drop everything up to and including a 0xFF byte: stale output of an
   * earlier client, and the error line our own 0xFF causes.
   */
  async #skipPastSyncByte(epoch: number): Promise<void> {
    for (;;) {
      const at = this.#unread.indexOf(SYNC_BYTE);
      if (at !== -1) {
        this.#unread.drop(at + 1);
        return;
      }
      this.#unread.clear();
      await this.#more(epoch);
    }
  }

  async #nextMessage(epoch: number): Promise<Record<string, unknown>> {
    let searched = 0;
    const discarded = this.#unread.discarded;
    for (;;) {
      const end = this.#unread.indexOf(0x0a, searched);
      if (end !== -1) {
        const line = new TextDecoder().decode(this.#unread.take(end + 1)).trim();
        searched = 0;
        if (line === "") continue;
        try {
          const message = JSON.parse(line);
          if (message && typeof message === "object" && !Array.isArray(message)) return message;
        } catch {
          // Reported below.
        }
        throw new ProtocolError(
          `the guest agent sent something that is not a message: ${printable(line.slice(0, 120))}`,
          { vm: this.#name },
        );
      }
      if (this.#unread.discarded !== discarded) {
        throw new ProtocolError(`the guest agent sent a line longer than ${MAX_LINE} bytes`, {
          vm: this.#name,
        });
      }
      searched = this.#unread.length;
      await this.#more(epoch);
    }
  }

  /** Bytes the guest sent that corral discarded (a flood past the bound), in all. */
  get discarded(): number {
    return this.#unread.discarded;
  }

  /** Bytes received and not consumed yet (at most the bound). */
  get buffered(): number {
    return this.#unread.length;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) {
      throw new ConnectionClosedError("the guest agent channel is closed", { vm: this.#name });
    }
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }
}
