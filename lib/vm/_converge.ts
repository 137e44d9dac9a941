/**
 * Keeping a migration honest about progress, as KubeVirt does: a deadline
 * that grows with the guest's memory (`deadlinePerGib`), and a watch that
 * cancels a migration whose remaining RAM has not shrunk for a while
 * (`stallTimeout`: a dead link, or a guest that dirties memory faster than
 * it is sent).
 *
 * @module
 */

import { MigrationError } from "../errors.ts";
import { delay } from "../_async.ts";
import { formatMs } from "../_text.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** How often the watch reads `query-migrate`. */
const EVERY_MS = 250;

/**
 * The deadline of a migration of `vm`: `timeout`, or `perGib` times the
 * guest's memory in GiB when that is shorter; with what it is made of.
 */
export async function deadlineOf(
  vm: Vm,
  timeout: number,
  perGib: number | undefined,
): Promise<{ ms: number; why: string }> {
  if (perGib === undefined) return { ms: timeout, why: "" };
  const size = await vm.execute("query-memory-size-summary");
  const gib = (size["base-memory"] + (size["plugged-memory"] ?? 0)) / 1024 ** 3;
  const ms = Math.max(1, Math.round(perGib * gib));
  if (ms >= timeout) return { ms: timeout, why: "" };
  return { ms, why: ` (deadline-per-gib ${formatMs(perGib)} × ${gib.toFixed(2)} GiB)` };
}

/** A running watch: `stalled` rejects when progress stops; `stop` ends the watch. */
export interface ProgressWatch {
  stalled: Promise<never>;
  stop(): void;
}

/**
 * Watch `source`'s migration: when the RAM it has left to send has not
 * gone below its lowest for `stallMs`, `stalled` rejects (the caller
 * cancels). Without `stallMs` nothing is watched.
 */
export function watchProgress(source: Vm, stallMs: number | undefined): ProgressWatch {
  const stop = new AbortController();
  if (stallMs === undefined) return { stalled: new Promise<never>(() => {}), stop: () => {} };
  const stalled = (async (): Promise<never> => {
    let lowest = Infinity;
    let since = performance.now();
    for (;;) {
      await delay(EVERY_MS, { signal: stop.signal });
      const info = await source.execute("query-migrate");
      const remaining = info.ram?.remaining ?? Infinity;
      if (remaining < lowest) [lowest, since] = [remaining, performance.now()];
      else if (performance.now() - since >= stallMs) {
        throw new MigrationError(
          `no progress for ${formatMs(stallMs)}: ${(remaining / 2 ** 20).toFixed(1)} MiB of RAM ` +
            `still to send after ${info.ram?.["dirty-sync-count"] ?? 0} pass(es) — a link that ` +
            "carries nothing, or a guest that dirties memory faster than it is sent (raise " +
            "max-bandwidth, or use auto-converge: true or mode: postcopy)",
          { vm: source.name },
        );
      }
    }
  })();
  stalled.catch(() => {}); // Stopped: nobody waits for it any more.
  return { stalled, stop: () => stop.abort() };
}
