import { CorralError, TimeoutError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import type { FleetOptions, VmResult } from "./fleet.ts";

/**
 * Run `action` on each named item, at most `concurrency` at once, each
 * within its own deadline; one result per item, in order, never a rejection.
 */
export async function forEachNamed<I extends { name: string }, T>(
  items: readonly I[],
  action: (item: I, signal: AbortSignal) => Promise<T>,
  options: FleetOptions,
): Promise<VmResult<T>[]> {
  const concurrency = Math.max(1, options.concurrency ?? 20);
  const results: VmResult<T>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await runOne(items[index]!, action, options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

async function runOne<I extends { name: string }, T>(
  vm: I,
  action: (vm: I, signal: AbortSignal) => Promise<T>,
  options: FleetOptions,
): Promise<VmResult<T>> {
  const timeout = options.timeout ?? 30_000;
  const started = performance.now();
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(`vm '${vm.name}': no result within ${formatMs(timeout)}`, {
        vm: vm.name,
        timeout,
      });
      controller.abort(error);
      reject(error);
    }, timeout);
  });
  const ms = () => performance.now() - started;
  try {
    options.signal?.throwIfAborted();
    const work = action(vm, controller.signal);
    // Past its deadline the action is abandoned; its late failure is no news.
    work.catch(() => {});
    const value = await Promise.race([work, expired]);
    return { vm: vm.name, status: "ok", value, ms: ms() };
  } catch (error) {
    if (error instanceof TimeoutError) return { vm: vm.name, status: "timeout", error, ms: ms() };
    const wrapped = error instanceof Error
      ? error
      : new CorralError(String(error), { vm: vm.name });
    return { vm: vm.name, status: "error", error: wrapped, ms: ms() };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
