/**
 * `vm.agent`: what orchestration does with the guest agent — ping, info,
 * run a command and collect its exit code and output, read and write
 * files, freeze and thaw the file systems (with a helper that always
 * thaws), shut down, list interfaces. It connects on first use, reconnects
 * after the channel closed (a guest reboot), and syncs after every timeout.
 *
 * @module
 */

import { AgentError, ConnectionClosedError, CorralError, TimeoutError } from "../errors.ts";
import { delay } from "../_async.ts";
import { formatMs } from "../_text.ts";
import { GuestAgent } from "./client.ts";
import { concat, decodeBase64, encodeBase64 } from "../_bytes.ts";
import { isLibvirtAddress, LibvirtAgent } from "../host/libvirt.ts";

import type {
  AgentExecOptions,
  AgentExecResult,
  AgentFileOptions,
  AgentInterface,
  FrozenOptions,
  HaltWatch,
  ThawOptions,
} from "./options.ts";

/** How often a running command's status is asked for: the agent has no completion event. */
const POLL_MS = 25;

/** What `VmAgent` sends commands through: a socket to qemu-ga, or libvirt. */
interface AgentChannel {
  execute(
    command: string,
    args?: Record<string, unknown>,
    options?: { timeout?: number; signal?: AbortSignal; noReply?: boolean },
  ): Promise<unknown>;
  close(): void;
}

/**
 * The guest agent of one VM.
 *
 * @example
 * ```ts ignore
 * import { launch } from "@corral/corral";
 * await using vm = await launch({ name: "db1", guest: "builtin:linux" });
 * await vm.agent.waitReady();
 * const { exitCode, stdout } = await vm.agent.exec("uname -r");
 * ```
 */
export class VmAgent {
  #address: string;
  #vm: string;
  #client: AgentChannel | undefined;
  #connecting: Promise<AgentChannel> | undefined;
  #halted: HaltWatch | undefined;

  /**
   * The agent at `address` (`unix:/path`) of the VM named `vm`; `halted`
   * tells when the VM stops running.
   */
  constructor(address: string, vm: string, halted?: HaltWatch) {
    this.#address = address;
    this.#vm = vm;
    this.#halted = halted;
  }

  /** Where the agent's socket is. */
  get address(): string {
    return this.#address;
  }

  /** `guest-ping`: resolves when the agent answers. */
  async ping(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.#call("guest-ping", undefined, options);
  }

  /**
   * Wait until the agent answers (after a boot or a reboot), trying again
   * until the deadline.
   *
   * @throws {AgentError} It did not answer in time.
   */
  async waitReady(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    const timeout = options.timeout ?? 60_000;
    const end = performance.now() + timeout;
    let last: unknown;
    while (performance.now() < end) {
      options.signal?.throwIfAborted();
      try {
        return await this.ping({
          timeout: Math.min(2000, end - performance.now()),
          signal: options.signal,
        });
      } catch (error) {
        if (options.signal?.aborted) throw error;
        last = error;
        await delay(Math.min(100, Math.max(0, end - performance.now())), options);
      }
    }
    throw new AgentError(`the guest agent did not answer within ${formatMs(timeout)}`, {
      vm: this.#vm,
      cause: last,
    });
  }

  /** `guest-info`: the agent's version and commands. */
  info(): Promise<{ version: string; supported_commands: { name: string; enabled: boolean }[] }> {
    return this.#call("guest-info") as never;
  }

  /**
   * Run `command` with `/bin/sh -c` in the guest and resolve once it exited,
   * with its exit code and output.
   *
   * @throws {TimeoutError} It did not exit in time (it may still run).
   */
  async exec(command: string, options: AgentExecOptions = {}): Promise<AgentExecResult> {
    const timeout = options.timeout ?? 30_000;
    const end = performance.now() + timeout;
    const args: Record<string, unknown> = {
      path: "/bin/sh",
      arg: ["-c", command],
      "capture-output": true,
    };
    if (options.input !== undefined) args["input-data"] = base64(options.input);
    if (options.env) args.env = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
    // A command cannot finish in a guest that panicked or shut down: fail at once then. The halt
    // aborts what is waiting (a call, the poll's delay), so no timer of this call outlives it.
    const watch = new AbortController();
    const halt = new AbortController();
    this.#halted?.(watch.signal).then((what) =>
      halt.abort(
        new AgentError(`${JSON.stringify(command)} cannot finish: the VM ${what}`, {
          vm: this.#vm,
        }),
      ), () => {});
    const signal = options.signal ? AbortSignal.any([options.signal, halt.signal]) : halt.signal;
    let pid: number | undefined;
    try {
      ({ pid } = await this.#call("guest-exec", args, { ...options, signal }) as { pid: number });
      for (;;) {
        const left = end - performance.now();
        if (left <= 0) throw this.#execTimeout(command, timeout, options.killOnTimeout);
        const status = await this.#call("guest-exec-status", { pid }, {
          ...options,
          signal,
          timeout: left,
        }) as {
          exited: boolean;
          exitcode?: number;
          signal?: number;
          "out-data"?: string;
          "err-data"?: string;
        };
        if (status.exited) {
          pid = undefined;
          return {
            exitCode: status.exitcode ?? 128 + (status.signal ?? 0),
            stdout: unbase64(status["out-data"]),
            stderr: unbase64(status["err-data"]),
          };
        }
        await delay(Math.min(POLL_MS, Math.max(0, end - performance.now())), { signal });
      }
    } catch (error) {
      if (halt.signal.aborted) throw halt.signal.reason;
      // Each call's deadline is what was left of the command's: a timeout says the command's.
      if (error instanceof TimeoutError) {
        throw this.#execTimeout(command, timeout, options.killOnTimeout);
      }
      throw error;
    } finally {
      watch.abort();
      if (pid !== undefined && options.killOnTimeout) await this.#kill(pid);
    }
  }

  #execTimeout(command: string, timeout: number, killed = false): TimeoutError {
    return new TimeoutError(
      `${JSON.stringify(command)} did not exit within ${formatMs(timeout)}; ${
        killed ? "it was killed in the guest" : "it may still run in the guest"
      }`,
      { vm: this.#vm, timeout },
    );
  }

  /** Kill a command started with guest-exec (best effort: the guest may be gone). */
  async #kill(pid: number): Promise<void> {
    await this.#call("guest-exec", { path: "/bin/sh", arg: ["-c", `kill -KILL ${pid}`] }, {
      timeout: 5000,
    }).catch(() => {});
  }

  /** The content of a file in the guest, as text (UTF-8, decoded once: see `readBytes`). */
  async readFile(path: string, options: AgentFileOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.readBytes(path, options));
  }

  /**
   * The content of a file in the guest, as bytes, read in 64 KiB chunks
   * within one deadline (a file that never ends, `/dev/zero`, times out).
   *
   * @throws {TimeoutError} The deadline passed first.
   */
  async readBytes(path: string, options: AgentFileOptions = {}): Promise<Uint8Array> {
    return await this.#withFile(path, "r", options, async (handle, left) => {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = await this.#call("guest-file-read", { handle, count: 65536 }, left()) as {
          "buf-b64": string;
          eof: boolean;
        };
        const bytes = decodeBase64(chunk["buf-b64"]);
        chunks.push(bytes);
        if (chunk.eof) return concat(chunks);
      }
    });
  }

  /** Write `content` (text as UTF-8, or bytes) to a file in the guest (created or truncated). */
  async writeFile(
    path: string,
    content: string | Uint8Array,
    options: AgentFileOptions = {},
  ): Promise<void> {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    await this.#withFile(path, "w", options, async (handle, left) => {
      // Chunks keep each message far below the agent's line limit.
      for (let at = 0; at < bytes.length || at === 0; at += WRITE_CHUNK) {
        const part = bytes.subarray(at, at + WRITE_CHUNK);
        await this.#call("guest-file-write", { handle, "buf-b64": encodeBase64(part) }, left());
        if (bytes.length === 0) break;
      }
    });
  }

  /** Open `path`, run `fn` with the handle and the deadline left, and always close it. */
  async #withFile<T>(
    path: string,
    mode: string,
    options: AgentFileOptions,
    fn: (handle: number, left: () => { timeout: number; signal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const timeout = options.timeout ?? 60_000;
    const end = performance.now() + timeout;
    const expired = () =>
      new TimeoutError(`the transfer of ${path} did not finish within ${formatMs(timeout)}`, {
        vm: this.#vm,
        timeout,
      });
    const left = () => {
      const ms = end - performance.now();
      if (ms <= 0) throw expired();
      return { timeout: ms, ...(options.signal ? { signal: options.signal } : {}) };
    };
    // Each call's deadline is what was left of the transfer's: a timeout says the transfer's.
    const ours = (error: unknown) => error instanceof TimeoutError ? expired() : error;
    const handle = await this.#call("guest-file-open", { path, mode }, left()).catch((error) => {
      throw ours(error);
    }) as number;
    try {
      return await fn(handle, left);
    } catch (error) {
      throw ours(error);
    } finally {
      await this.#call("guest-file-close", { handle }, { timeout: 5000 }).catch(() => {});
    }
  }

  /**
   * Set the guest's clock to `epochMs` (ms since the epoch) with
   * `guest-set-time`; the host's clock is never touched.
   */
  async setTime(
    epochMs: number,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    await this.#call("guest-set-time", { time: Math.round(epochMs) * 1_000_000 }, options);
  }

  /** The guest's clock, in ms since the epoch (`guest-get-time`). */
  async time(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    return await this.#call("guest-get-time", undefined, options) as number / 1_000_000;
  }

  /** Freeze the guest's file systems (for a consistent snapshot); resolves to how many. */
  async freeze(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    // An interrupted freeze can leave the guest unfreezable: a long deadline.
    return await this.#call("guest-fsfreeze-freeze", undefined, {
      timeout: options.timeout ?? 600_000,
      signal: options.signal,
    }) as number;
  }

  /** Thaw the file systems. */
  async thaw(options: { timeout?: number } = {}): Promise<number> {
    return await this.#call("guest-fsfreeze-thaw", undefined, {
      timeout: options.timeout ?? 300_000,
    }) as number;
  }

  /**
   * Thaw, and keep trying until the agent answers: a freeze that was sent
   * may still be under way in the guest (the agent runs one command at a
   * time, so the thaw follows it). Gives up when `gone()` says the VM is
   * gone, or after `timeout` ms.
   *
   * @throws {AgentError} The guest could not be thawed: it may stay frozen.
   */
  async thawSurely(options: ThawOptions = {}): Promise<number> {
    const timeout = options.timeout ?? 100_000;
    const end = performance.now() + timeout;
    for (let attempt = 1;; attempt++) {
      try {
        return await this.thaw({ timeout: Math.max(1, Math.min(30_000, end - performance.now())) });
      } catch (error) {
        const gone = options.gone?.() ?? false;
        if (gone || performance.now() >= end) {
          throw new AgentError(
            `the guest could not be thawed ${
              gone ? "(the VM is gone)" : `within ${formatMs(timeout)}`
            } after ${attempt} attempt${attempt > 1 ? "s" : ""}: ${
              error instanceof CorralError ? error.detail : String(error)
            }; its file systems may stay frozen`,
            { vm: this.#vm, cause: error },
          );
        }
        await delay(Math.min(500, Math.max(0, end - performance.now())));
      }
    }
  }

  /**
   * Run `fn` with the file systems frozen, and always thaw once the freeze
   * was sent — when `fn` fails, when the freeze itself fails or passes its
   * deadline, when `signal` aborts — trying until the agent answers (see
   * {@linkcode VmAgent.prototype.thawSurely}).
   */
  async withFrozen<T>(fn: () => Promise<T>, options: FrozenOptions = {}): Promise<T> {
    let outcome: { value: T } | { error: unknown };
    try {
      await this.freeze(options);
      options.signal?.throwIfAborted();
      outcome = { value: await fn() };
    } catch (error) {
      outcome = { error };
    }
    try {
      await this.thawSurely(options);
    } catch (thawError) {
      if (!("error" in outcome)) throw thawError;
      const first = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      throw new AgentError(`${first}; and then ${(thawError as AgentError).detail}`, {
        vm: this.#vm,
        cause: outcome.error,
      });
    }
    if ("error" in outcome) throw outcome.error;
    return outcome.value;
  }

  /** Ask the guest to power off (the agent sends no answer when it obeys). */
  async shutdown(mode: "powerdown" | "reboot" | "halt" = "powerdown"): Promise<void> {
    await this.#call("guest-shutdown", { mode }, { noReply: true, timeout: 5000 });
    this.close();
  }

  /** The guest's network interfaces and their addresses. */
  async interfaces(): Promise<AgentInterface[]> {
    const list = await this.#call("guest-network-get-interfaces") as {
      name: string;
      "hardware-address"?: string;
      "ip-addresses"?: { "ip-address": string; prefix: number }[];
    }[];
    return list.map((i) => ({
      name: i.name,
      hardwareAddress: i["hardware-address"],
      addresses: (i["ip-addresses"] ?? []).map((a) => `${a["ip-address"]}/${a.prefix}`),
    }));
  }

  /** Any agent command, for what the helpers do not cover. */
  execute(
    command: string,
    args?: Record<string, unknown>,
    options?: { timeout?: number; signal?: AbortSignal },
  ): Promise<unknown> {
    return this.#call(command, args, options);
  }

  /** Close the channel (the next call connects again). */
  close(): void {
    this.#client?.close();
    this.#client = undefined;
  }

  async #call(
    command: string,
    args?: Record<string, unknown>,
    options: { timeout?: number; signal?: AbortSignal; noReply?: boolean } = {},
  ): Promise<unknown> {
    const client = await this.#connect();
    try {
      return await client.execute(command, args, options);
    } catch (error) {
      // The guest rebooted or the agent exited: connect afresh next time.
      if (error instanceof ConnectionClosedError) {
        this.close();
        throw new AgentError(`the guest agent went away during ${command}: ${error.detail}`, {
          vm: this.#vm,
          cause: error,
        });
      }
      throw error;
    }
  }

  #connect(): Promise<AgentChannel> {
    if (this.#client) return Promise.resolve(this.#client);
    // libvirt owns the channel of a domain it manages: ask it, through virsh.
    if (isLibvirtAddress(this.#address)) {
      return Promise.resolve(this.#client = new LibvirtAgent(this.#address, this.#vm));
    }
    this.#connecting ??= GuestAgent.connect(this.#address, { name: this.#vm, timeout: 5000 })
      .then((client) => this.#client = client, (cause) => {
        throw new AgentError(
          `the guest agent does not answer at ${this.#address}: ${
            cause instanceof CorralError ? cause.detail : String(cause)
          }` +
            "; is it running in the guest (builtin:linux starts it; your own image needs qemu-guest-agent)?",
          { vm: this.#vm, cause },
        );
      })
      .finally(() => this.#connecting = undefined);
    return this.#connecting;
  }
}

/** Bytes per guest-file-write: 48 KiB, 64 KiB as base64. */
const WRITE_CHUNK = 48 * 1024;

function base64(text: string): string {
  return encodeBase64(new TextEncoder().encode(text));
}

function unbase64(data: string | undefined): string {
  return new TextDecoder().decode(decodeBase64(data));
}
