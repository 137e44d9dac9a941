/**
 * A bounded, numbered record of entries with deadline-bound waits and
 * iterators over it: the mechanism behind the event journal and the console.
 */

import { EventsLostError, TimeoutError } from "./errors.ts";
import { formatMs } from "./_text.ts";
import { abortable, after } from "./_async.ts";

/** Something kept in a journal: it carries its sequence number. */
export interface Entry {
  seq: number;
}

/** Options of {@linkcode Journal}. */
export interface JournalOptions {
  /** How many entries are kept. */
  capacity: number;
  /** The VM's name, for messages. */
  vm?: string | undefined;
  /** The default wait deadline in milliseconds. */
  timeout: number;
  /** What the entries are, for messages: "events", "console lines". */
  kind: string;
  /** Extra words for a timeout message, e.g. the last console line. */
  context?: () => string;
}

/** Options of a wait. */
export interface WaitOptions {
  since?: number | undefined;
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
}

interface Waiter<T> {
  accepts(entry: T): boolean;
  resolve(entry: T): void;
  reject(error: unknown): void;
}

/** The mechanism: a ring of entries, waits and iterators. */
export class Journal<T extends Entry> {
  /** The kept entries, oldest first; grows on demand up to twice the capacity, then drops the oldest half. */
  #kept: T[] = [];
  #capacity: number;
  #last = 0;
  #waiters = new Set<Waiter<T>>();
  #wake = Promise.withResolvers<void>();
  #closed: { error: unknown; quiet: boolean } | undefined;
  #options: JournalOptions;

  constructor(options: JournalOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`journal capacity must be a positive integer, not ${options.capacity}`);
    }
    this.#capacity = options.capacity;
    this.#options = options;
  }

  get cursor(): number {
    return this.#last;
  }

  get oldest(): number {
    return Math.max(1, this.#last - this.#capacity + 1);
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** The newest entry, if any. */
  get newest(): T | undefined {
    return this.#last === 0 ? undefined : this.#at(this.#last);
  }

  append(item: Omit<T, "seq">): T {
    const entry = { ...item, seq: this.#last + 1 } as T;
    this.#last = entry.seq;
    this.#kept.push(entry);
    // Trim in halves, so that appending stays O(1) on average.
    if (this.#kept.length >= 2 * this.#capacity) {
      this.#kept.splice(0, this.#kept.length - this.#capacity);
    }
    for (const waiter of this.#waiters) {
      if (waiter.accepts(entry)) waiter.resolve(entry);
    }
    this.#wakeIterators();
    return entry;
  }

  close(error: unknown, quiet: boolean): void {
    if (this.#closed) return;
    this.#closed = { error, quiet };
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#wakeIterators();
  }

  /** Accept entries again after a close (a new connection to a relaunched VM). */
  reopen(): void {
    this.#closed = undefined;
  }

  history(accepts: (entry: T) => boolean, since: number): T[] {
    const out: T[] = [];
    for (let seq = Math.max(since + 1, this.oldest); seq <= this.#last; seq++) {
      const entry = this.#at(seq);
      if (accepts(entry)) out.push(entry);
    }
    return out;
  }

  waitFor(accepts: (entry: T) => boolean, what: string, options: WaitOptions): Promise<T> {
    const since = options.since ?? this.#last;
    try {
      this.#checkKept(since);
    } catch (error) {
      return Promise.reject(error);
    }
    const [early] = this.history(accepts, since);
    if (early) return Promise.resolve(early);
    if (this.#closed) return Promise.reject(this.#closed.error);
    return this.#wait(accepts, what, options);
  }

  async *entries(
    accepts: (entry: T) => boolean,
    options: { since?: number | undefined; signal?: AbortSignal | undefined },
  ): AsyncGenerator<T, void, undefined> {
    let cursor = options.since ?? this.#last;
    const signal = options.signal;
    while (true) {
      signal?.throwIfAborted();
      this.#checkKept(cursor);
      while (cursor < this.#last) {
        const entry = this.#at(++cursor);
        if (accepts(entry)) yield entry;
        this.#checkKept(cursor);
      }
      if (this.#closed) {
        if (this.#closed.quiet) return;
        throw this.#closed.error;
      }
      await abortable(this.#wake.promise, signal);
    }
  }

  #wait(accepts: (entry: T) => boolean, what: string, options: WaitOptions): Promise<T> {
    const timeout = options.timeout ?? this.#options.timeout;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const signal = options.signal;
    const vm = this.#options.vm;
    const onAbort = () => settle(() => reject(signal?.reason));
    const cancel = after(timeout, () => {
      const context = this.#options.context?.() ?? "";
      const error = new TimeoutError(
        `no ${what} within ${formatMs(timeout)}${context}`,
        { vm, timeout },
      );
      settle(() => reject(error));
    });
    const waiter: Waiter<T> = {
      accepts,
      resolve: (entry) => settle(() => resolve(entry)),
      reject: (error) => settle(() => reject(error)),
    };
    const settle = (finish: () => void) => {
      cancel();
      signal?.removeEventListener("abort", onAbort);
      this.#waiters.delete(waiter);
      finish();
    };
    if (signal?.aborted) {
      onAbort();
      return promise;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#waiters.add(waiter);
    return promise;
  }

  #at(seq: number): T {
    return this.#kept[this.#kept.length - (this.#last - seq) - 1]!;
  }

  #checkKept(since: number): void {
    if (since + 1 < this.oldest) {
      const vm = this.#options.vm;
      throw new EventsLostError(
        `${this.#options.kind} ${since + 1} to ${this.oldest - 1} were dropped: ` +
          `only the last ${this.#capacity} are kept; keep more, or read sooner`,
        { vm },
      );
    }
  }

  #wakeIterators(): void {
    this.#wake.resolve();
    this.#wake = Promise.withResolvers<void>();
  }
}
