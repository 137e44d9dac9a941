import { AbortedError, CorralError, DeadlineError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { deadline, pooledMap } from "../_async.ts";
import type { FleetOptions, VmResult } from "./fleet.ts";

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
  try {
    options.signal?.throwIfAborted();
    const value = await deadline(action(item, signal), timeout, {
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
    if (error instanceof TimeoutError) return { vm: item.name, status: "timeout", error, ms: ms() };
    if (options.signal?.aborted && error === options.signal.reason) {
      controller.abort(error);
      return { vm: item.name, status: "error", error: aborted(item.name, error), ms: ms() };
    }
    const wrapped = error instanceof Error
      ? error
      : new CorralError(String(error), { vm: item.name });
    return { vm: item.name, status: "error", error: wrapped, ms: ms() };
  }
}

function aborted(vm: string, reason: unknown): Error {
  const why = reason instanceof Error ? reason.message : String(reason ?? "aborted");
  return new AbortedError(`aborted: ${why}`, { vm, cause: reason });
}
