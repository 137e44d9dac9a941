/**
 * One deadline shared by the steps of an action (a command, then a wait
 * for its event): each step gets what is left, and Ctrl-C ends all.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { deadline } from "../_async.ts";

/** One deadline shared by the steps of an action. */
export class Deadline {
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
