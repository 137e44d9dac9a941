/**
 * The commands sent and not yet answered, each with its deadline. One
 * timer serves them all (armed for the earliest deadline): a timer per
 * command was a measurable part of each round trip.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { after, type Cancel } from "../_async.ts";
import type { ExecuteOptions } from "./client_types.ts";

/** A command waiting for its reply. */
export interface Pending {
  command: string;
  /** Sent out of band (answered out of order). */
  oob: boolean;
  arguments: Record<string, unknown> | undefined;
  /** `performance.now()` past which the reply is late. */
  deadline: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  expire(): void;
}

/** The pending commands of one connection, by id. */
export class PendingCommands {
  #pending = new Map<number, Pending>();
  #deadlineTimer: Cancel | undefined;
  #deadlineAt = Infinity;
  #vm: string;
  #defaultTimeout: number;

  constructor(vm: string, defaultTimeout: number) {
    this.#vm = vm;
    this.#defaultTimeout = defaultTimeout;
  }

  /** The command waiting for reply `id`. */
  get(id: number): Pending | undefined {
    return this.#pending.get(id);
  }

  /** How many wait. */
  get size(): number {
    return this.#pending.size;
  }

  /** Every waiting command, oldest first. */
  values(): Pending[] {
    return [...this.#pending.values()];
  }

  /** Reject every waiting command with `error` and stop the timer. */
  rejectAll(error: unknown): void {
    for (const pending of this.values()) pending.reject(error);
    this.#deadlineTimer?.();
    this.#deadlineTimer = undefined;
  }

  /** Register command `id`; resolves with its reply, rejects at its deadline or abort. */
  track(
    id: number,
    command: string,
    args: Record<string, unknown> | undefined,
    options: ExecuteOptions,
  ): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timeout = options.timeout ?? this.#defaultTimeout;
    const signal = options.signal;
    const settle = (finish: () => void) => {
      signal?.removeEventListener("abort", onAbort);
      this.#pending.delete(id);
      finish();
    };
    const onAbort = () => settle(() => reject(signal?.reason));
    const pending: Pending = {
      command,
      oob: options.oob ?? false,
      arguments: args,
      deadline: performance.now() + timeout,
      resolve: (value) => settle(() => resolve(value)),
      reject: (error) => settle(() => reject(error)),
      expire: () =>
        settle(() =>
          reject(
            new TimeoutError(
              `no reply to ${command} within ${formatMs(timeout)}; ` +
                `the command may still be running in QEMU`,
              { vm: this.#vm, timeout, command },
            ),
          )
        ),
    };
    this.#pending.set(id, pending);
    this.#armDeadline(pending.deadline);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  /**
   * One timer serves every pending command's deadline: it is armed for the
   * earliest one and moved only when an earlier deadline comes. A timer per
   * command was a measurable part of each round trip.
   */
  #armDeadline(deadline: number): void {
    if (this.#deadlineTimer !== undefined && this.#deadlineAt <= deadline) return;
    this.#deadlineTimer?.();
    this.#deadlineAt = deadline;
    this.#deadlineTimer = after(deadline - performance.now(), () => this.#expire());
  }

  #expire(): void {
    this.#deadlineTimer = undefined;
    const now = performance.now();
    let next = Infinity;
    for (const pending of [...this.#pending.values()]) {
      if (pending.deadline <= now + 1) pending.expire();
      else next = Math.min(next, pending.deadline);
    }
    if (next !== Infinity) this.#armDeadline(next);
  }
}
