/**
 * What a QMP connection is told and tells: its greeting, options, states
 * and the options of a command.
 *
 * @module
 */

import type { EventJournal } from "./journal.ts";

/** QEMU's greeting: its version and the capabilities it offers. */
export interface QmpGreeting {
  /** QEMU's version and package. */
  version: {
    qemu: { major: number; minor: number; micro: number };
    package: string;
  };
  /** What QEMU offers, e.g. `oob`. */
  capabilities: string[];
}

/**
 * A protocol log: called with every QMP message sent (`"->"`) and received
 * (`"<-"`), as text, and the VM's name.
 */
export type QmpTrace = (direction: "->" | "<-", message: string, vm: string) => void;

/** Where a connection is in its life. */
export type QmpState = "connecting" | "running" | "closing" | "closed";

/** Options of {@linkcode QmpClient.connect}. */
export interface QmpConnectOptions {
  /** The VM's name, used in every message and error. Default: the address. */
  name?: string;
  /**
   * Deadline for connecting, the greeting and negotiation, in milliseconds.
   * Default 10,000.
   */
  timeout?: number;
  /** Default deadline of each command, in milliseconds. Default 30,000. */
  commandTimeout?: number | undefined;
  /** The largest message accepted, in bytes. Default 16 MiB. */
  maxMessageBytes?: number;
  /** How many events the journal keeps. Default 1024. */
  journalSize?: number;
  /**
   * Record events into this journal (reopened) instead of a new one, so that
   * cursors stay valid across connections to the same VM.
   */
  journal?: EventJournal | undefined;
  /**
   * Accept an event whose `data` is a JSON text of an object instead of the
   * object: libvirt 9's `virt-qemu-qmp-proxy` sends events so. Off by
   * default (a strict peer check); `attach: libvirt:…` turns it on.
   */
  eventDataAsText?: boolean | undefined;
  /**
   * Give up negotiating this long after the greeting, with the same
   * "greeted, but did not answer qmp_capabilities" timeout, even if the
   * connect deadline is further off (the launcher then starts that QEMU
   * again). Default: the connect deadline alone.
   */
  negotiationTimeout?: number | undefined;
  /** Abandons connecting. */
  signal?: AbortSignal;
  /** See every message from the greeting on (the same as setting `trace` later, but earlier). */
  trace?: QmpTrace | undefined;
}

/** Options of {@linkcode QmpClient.prototype.execute}. */
export interface ExecuteOptions {
  /** Deadline for the reply in milliseconds. Default: the client's `commandTimeout`. */
  timeout?: number;
  /** Abandons the wait for the reply (the command may still run in QEMU). */
  signal?: AbortSignal;
  /**
   * Send as `exec-oob`, answered out of band even while in-band commands
   * queue. QEMU 7.2 allows it for `migrate-recover`, `migrate-pause`,
   * `yank` and `query-yank`. Default `false`.
   */
  oob?: boolean;
}

/** The default deadline for connecting and negotiating, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;
