import { AbortedError, CorralError, DeadlineError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { deadline, delay, pooledMap } from "../_async.ts";
import type { FleetOptions, VmResult } from "./fleet_options.ts";

/**
 * Run `action` on each named item, at most `concurrency` at once, each
 * within its own deadline; one result per item, in order, never a rejection.
 * When `options.signal` aborts, every unfinished item is settled at once as
 * an error, whether or not its action heeds the signal.
 */
export function forEachNamed<I extends { name: string }, T>(
  items: readonly I[],
  action: (item: I, signal: AbortSignal) => Promise<T>,
  options: FleetOptions,
): Promise<VmResult<T>[]> {
  return pooledMap(items, options.concurrency ?? 20, (item) => runOne(item, action, options));
}

async function runOne<I extends { name: string }, T>(
  item: I,
  action: (item: I, signal: AbortSignal) => Promise<T>,
  options: FleetOptions,
): Promise<VmResult<T>> {
  const timeout = options.timeout ?? 30_000;
  const started = performance.now();
  const ms = () => performance.now() - started;
  const controller = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, controller.signal])
    : controller.signal;
  let running: Promise<T> | undefined;
  try {
    options.signal?.throwIfAborted();
    running = action(item, signal);
    const value = await deadline(running, timeout, {
      signal: options.signal,
      onTimeout: () => {
        const error = new DeadlineError(
          `no result within ${formatMs(timeout)}`,
          { vm: item.name, timeout },
        );
        controller.abort(error);
        return error;
      },
    });
    return { vm: item.name, status: "ok", value, ms: ms() };
  } catch (error) {
    controller.abort(error);
    const late = await settled(running, options.settle ?? 0);
    if (error instanceof TimeoutError) {
      // The action's own account of its deadline (what it undid) says more than the guard's.
      const own = late instanceof TimeoutError ? late : error;
      return { vm: item.name, status: "timeout", error: own, ms: ms() };
    }
    if (options.signal?.aborted && error === options.signal.reason) {
      const then = late instanceof Error && late !== error ? `; ${late.message}` : "";
      return {
        vm: item.name,
        status: "error",
        error: aborted(item.name, error, then),
        ms: ms(),
      };
    }
    const wrapped = error instanceof Error
      ? error
      : new CorralError(String(error), { vm: item.name });
    return { vm: item.name, status: "error", error: wrapped, ms: ms() };
  }
}

/**
 * Wait until `running` settled, at most `ms`: an abandoned action undoes
 * what it started. Resolves to its rejection, if it rejected in time.
 */
async function settled(running: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  if (!running || ms <= 0) return undefined;
  const stop = new AbortController();
  const late = await Promise.race([
    running.then(() => undefined, (error) => error ?? new Error("rejected")),
    delay(ms, stop).then(() => undefined, () => undefined),
  ]);
  stop.abort();
  return late;
}

function aborted(vm: string, reason: unknown, then = ""): Error {
  const why = reason instanceof Error ? reason.message : String(reason ?? "aborted");
  return new AbortedError(`aborted: ${why}${then}`, { vm, cause: reason });
}
