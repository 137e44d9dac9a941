/**
 * What a fleet call takes and gives back per VM: shared by `Fleet` and the
 * loop that runs an action on many items at once.
 *
 * @module
 */

import type { TimeoutError } from "../errors.ts";

/** The outcome of a fleet call on one VM. */
export type VmResult<T> =
  | { vm: string; status: "ok"; value: T; ms: number }
  | { vm: string; status: "error"; error: Error; ms: number }
  | { vm: string; status: "timeout"; error: TimeoutError; ms: number };

/** Options of a fleet call. */
export interface FleetOptions {
  /** At most this many VMs are acted on at once. Default 20. */
  concurrency?: number;
  /** Deadline per VM, in ms; a VM past it is reported `timeout`. Default 30,000. */
  timeout?: number;
  /** Abandons the calls not yet finished (reported as errors). */
  signal?: AbortSignal;
  /**
   * After a VM's deadline or an abort, how long its action may go on
   * cleaning up (cancelling a migration, thawing a guest) before the VM is
   * reported, in ms: an action that heeds its signal has then undone what
   * it started. Default 0: reported at once.
   */
  settle?: number;
}
