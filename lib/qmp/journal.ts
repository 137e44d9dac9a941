/**
 * The event journal: every QMP event a connection receives, numbered in
 * arrival order and kept in a bounded ring, so that a wait can look back at
 * what already arrived and never misses an event that came early.
 *
 * @module
 */

import { CorralError, EventsLostError, TimeoutError } from "../errors.ts";
import { formatMs, prefix } from "../_text.ts";
import { subsetMatch } from "./match.ts";

/** QEMU's timestamp of an event: seconds and microseconds since the epoch. */
export interface QmpTimestamp {
  seconds: number;
  microseconds: number;
}

/** An event as QEMU sent it, plus its place in the journal. */
export interface QmpEvent {
  /** The event name, e.g. `STOP` or `GUEST_PANICKED`. */
  event: string;
  /** The event's data; absent when QEMU sent none (as for `STOP`). */
  data?: Record<string, unknown>;
  /** When QEMU emitted the event. */
  timestamp: QmpTimestamp;
  /** The journal's sequence number: 1 for the first event of a connection. */
  seq: number;
}

/**
 * What an event's data must contain: a pattern matched as a subset (see
 * {@linkcode subsetMatch}), or a predicate.
 */
export type EventMatch =
  | Record<string, unknown>
  | ((data: Record<string, unknown>, event: QmpEvent) => boolean);

/** Which events to select. */
export interface EventFilter {
  /** An event name or several; all events when absent. */
  names?: string | readonly string[];
  /** What the data must contain. */
  match?: EventMatch;
}

/** Options of {@linkcode EventJournal.prototype.waitFor}. */
export interface JournalWaitOptions {
  /**
   * Only events with a sequence number greater than this count. Default: the
   * cursor when the wait is made, so only events still to come count.
   */
  since?: number;
  /** Deadline in milliseconds. Default 30,000. */
  timeout?: number;
  /** Abandons the wait, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@linkcode EventJournal.prototype.events}. */
export interface JournalIterateOptions {
  /** Start after this sequence number. Default: the cursor now. */
  since?: number;
  /** Ends the iteration, rejecting the pending `next()` with the reason. */
  signal?: AbortSignal;
}

/** Options of the {@linkcode EventJournal} constructor. */
export interface EventJournalOptions {
  /** How many events are kept. Default 1024. */
  capacity?: number;
  /** The VM's name, for messages. */
  vm?: string;
  /** The default wait deadline in milliseconds. Default 30,000. */
  timeout?: number;
}

interface Waiter {
  accepts(event: QmpEvent): boolean;
  resolve(event: QmpEvent): void;
  reject(error: unknown): void;
}

/** The default number of events a journal keeps. */
export const DEFAULT_JOURNAL_CAPACITY = 1024;
/** The default deadline of a wait, in milliseconds. */
export const DEFAULT_TIMEOUT = 30_000;

/**
 * A bounded, numbered record of events with waits and iterators over it.
 *
 * @example Wait for an event that already arrived
 * ```ts
 * import { EventJournal } from "./journal.ts";
 * import assert from "node:assert/strict";
 *
 * const journal = new EventJournal({ vm: "a" });
 * const before = journal.cursor;
 * journal.append({ event: "STOP", timestamp: { seconds: 1, microseconds: 0 } });
 * const stop = await journal.waitFor({ names: "STOP" }, { since: before });
 * assert.equal(stop.seq, 1);
 * ```
 */
export class EventJournal {
  #ring: (QmpEvent | undefined)[];
  #last = 0;
  #waiters = new Set<Waiter>();
  #wake = Promise.withResolvers<void>();
  #closed: { error: unknown; quiet: boolean } | undefined;
  #vm: string | undefined;
  #timeout: number;

  /** Make an empty journal. */
  constructor(options: EventJournalOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_JOURNAL_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`journal capacity must be a positive integer, not ${capacity}`);
    }
    this.#ring = new Array(capacity);
    this.#vm = options.vm;
    this.#timeout = options.timeout ?? DEFAULT_TIMEOUT;
  }

  /** The sequence number of the newest event; 0 before the first. */
  get cursor(): number {
    return this.#last;
  }

  /** The sequence number of the oldest event still kept. */
  get oldest(): number {
    return Math.max(1, this.#last - this.#ring.length + 1);
  }

  /** Whether the journal was closed: no more events will come. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Record an event and hand it to the waits it satisfies. */
  append(message: Omit<QmpEvent, "seq">): QmpEvent {
    if (this.#closed) throw new CorralError("the event journal is closed", { vm: this.#vm });
    const event = { ...message, seq: ++this.#last };
    this.#ring[event.seq % this.#ring.length] = event;
    for (const waiter of this.#waiters) {
      if (waiter.accepts(event)) waiter.resolve(event);
    }
    this.#wakeIterators();
    return event;
  }

  /**
   * Close the journal: waits still pending reject with `error`; iterators
   * first read what is left, then throw `error`, or end quietly when
   * `quiet` is set (the client closed on purpose). Closing twice keeps the
   * first close.
   */
  close(error: unknown, quiet = false): void {
    if (this.#closed) return;
    this.#closed = { error, quiet };
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#wakeIterators();
  }

  /** The kept events after `since` that pass `filter`, oldest first. */
  history(filter: EventFilter = {}, since = 0): QmpEvent[] {
    const accepts = compile(filter);
    const out: QmpEvent[] = [];
    for (let seq = Math.max(since + 1, this.oldest); seq <= this.#last; seq++) {
      const event = this.#at(seq);
      if (accepts(event)) out.push(event);
    }
    return out;
  }

  /**
   * The first event after `options.since` that passes `filter`: one already
   * kept, or the next to arrive.
   *
   * @throws {TimeoutError} When none comes before the deadline.
   * @throws {EventsLostError} When events after `since` were already dropped.
   * @throws The journal's close error when it closes first.
   */
  waitFor(filter: EventFilter, options: JournalWaitOptions = {}): Promise<QmpEvent> {
    const since = options.since ?? this.#last;
    try {
      this.#checkKept(since);
    } catch (error) {
      return Promise.reject(error);
    }
    const accepts = compile(filter);
    const [early] = this.history(filter, since);
    if (early) return Promise.resolve(early);
    if (this.#closed) return Promise.reject(this.#closed.error);
    return this.#wait(accepts, filter, options);
  }

  /**
   * The events after `options.since` that pass `filter`, as they arrive.
   *
   * @throws {EventsLostError} When the reader falls more than the journal's
   *   capacity behind.
   */
  async *events(
    filter: EventFilter = {},
    options: JournalIterateOptions = {},
  ): AsyncGenerator<QmpEvent, void, undefined> {
    const accepts = compile(filter);
    let cursor = options.since ?? this.#last;
    const signal = options.signal;
    while (true) {
      signal?.throwIfAborted();
      this.#checkKept(cursor);
      for (; cursor < this.#last;) {
        const event = this.#at(++cursor);
        if (accepts(event)) yield event;
        this.#checkKept(cursor);
      }
      if (this.#closed) {
        if (this.#closed.quiet) return;
        throw this.#closed.error;
      }
      await abortable(this.#wake.promise, signal);
    }
  }

  #wait(
    accepts: (event: QmpEvent) => boolean,
    filter: EventFilter,
    options: JournalWaitOptions,
  ): Promise<QmpEvent> {
    const timeout = options.timeout ?? this.#timeout;
    const { promise, resolve, reject } = Promise.withResolvers<QmpEvent>();
    const signal = options.signal;
    const onAbort = () => settle(() => reject(signal?.reason));
    const timer = setTimeout(() =>
      settle(() =>
        reject(
          new TimeoutError(
            `${prefix(this.#vm)}no ${describe(filter)} within ${formatMs(timeout)}`,
            { vm: this.#vm, timeout },
          ),
        )
      ), timeout);
    const waiter: Waiter = {
      accepts,
      resolve: (event) => settle(() => resolve(event)),
      reject: (error) => settle(() => reject(error)),
    };
    const settle = (finish: () => void) => {
      clearTimeout(timer);
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

  #at(seq: number): QmpEvent {
    return this.#ring[seq % this.#ring.length]!;
  }

  #checkKept(since: number): void {
    if (since + 1 < this.oldest) {
      throw new EventsLostError(
        `${prefix(this.#vm)}events ${since + 1} to ${this.oldest - 1} were dropped from the ` +
          `journal, which keeps the last ${this.#ring.length}: raise journalSize or read sooner`,
        { vm: this.#vm },
      );
    }
  }

  #wakeIterators(): void {
    this.#wake.resolve();
    this.#wake = Promise.withResolvers<void>();
  }
}

function compile(filter: EventFilter): (event: QmpEvent) => boolean {
  const names = filter.names === undefined
    ? undefined
    : new Set(typeof filter.names === "string" ? [filter.names] : filter.names);
  const match = filter.match;
  const matches = match === undefined
    ? () => true
    : typeof match === "function"
    ? (event: QmpEvent) => match(event.data ?? {}, event)
    : (event: QmpEvent) => subsetMatch(event.data ?? {}, match);
  return (event) => (names === undefined || names.has(event.event)) && matches(event);
}

function describe(filter: EventFilter): string {
  const names = filter.names === undefined
    ? "event"
    : typeof filter.names === "string"
    ? `${filter.names} event`
    : `${filter.names.join(" or ")} event`;
  const match = filter.match;
  if (match === undefined) return names;
  return typeof match === "function"
    ? `${names} accepted by the predicate`
    : `${names} matching ${JSON.stringify(match)}`;
}

function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
