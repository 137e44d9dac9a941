/**
 * The event journal: every QMP event a connection receives, numbered in
 * arrival order and kept in a bounded ring, so that a wait can look back at
 * what already arrived and never misses an event that came early.
 *
 * @module
 */

import { Journal } from "../_journal.ts";
import { subsetMatch } from "./match.ts";

/** QEMU's timestamp of an event: seconds and microseconds since the epoch. */
export interface QmpTimestamp {
  /** Seconds since the epoch. */
  seconds: number;
  /** Microseconds within the second. */
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
  #journal: Journal<QmpEvent>;

  /** Make an empty journal. */
  constructor(options: EventJournalOptions = {}) {
    this.#journal = new Journal({
      capacity: options.capacity ?? DEFAULT_JOURNAL_CAPACITY,
      vm: options.vm,
      timeout: options.timeout ?? DEFAULT_TIMEOUT,
      kind: "events",
    });
  }

  /** The sequence number of the newest event; 0 before the first. */
  get cursor(): number {
    return this.#journal.cursor;
  }

  /** The sequence number of the oldest event still kept. */
  get oldest(): number {
    return this.#journal.oldest;
  }

  /** Whether the journal was closed: no more events will come. */
  get closed(): boolean {
    return this.#journal.closed;
  }

  /** Record an event and hand it to the waits it satisfies. */
  append(message: Omit<QmpEvent, "seq">): QmpEvent {
    return this.#journal.append(message);
  }

  /**
   * Close the journal: waits still pending reject with `error`; iterators
   * first read what is left, then throw `error`, or end quietly when
   * `quiet` is set (the client closed on purpose). Closing twice keeps the
   * first close.
   */
  close(error: unknown, quiet = false): void {
    this.#journal.close(error, quiet);
  }

  /** Accept events again after a close: a new connection to the same VM. */
  reopen(): void {
    this.#journal.reopen();
  }

  /**
   * Append every event `other` still keeps, in its order, numbered on in
   * this journal: when a VM moves to another QEMU (a live migration), what
   * the new QEMU said so far joins the VM's own record, and waits made
   * before the move see it.
   */
  absorb(other: EventJournal): void {
    for (const { seq: _, ...event } of other.history()) this.append(event);
  }

  /** The kept events after `since` that pass `filter`, oldest first. */
  history(filter: EventFilter = {}, since = 0): QmpEvent[] {
    return this.#journal.history(compile(filter), since);
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
    return this.#journal.waitFor(compile(filter), describe(filter), options);
  }

  /**
   * The events after `options.since` that pass `filter`, as they arrive.
   *
   * @throws {EventsLostError} When the reader falls more than the journal's
   *   capacity behind.
   */
  events(
    filter: EventFilter = {},
    options: JournalIterateOptions = {},
  ): AsyncGenerator<QmpEvent, void, undefined> {
    return this.#journal.entries(compile(filter), options);
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
