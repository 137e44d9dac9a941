/**
 * The async shapes every wait in corral is built from (after Deno's std
 * `async`): a timer that honours any duration, `delay`, `abortable`,
 * `deadline` and a pooled map. One place, so that no wait hand-rolls its
 * own race of a timer, a signal and a promise.
 */

/** The longest delay `setTimeout` honours; a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A cancellable timer; returns the function that cancels it. */
export type Cancel = () => void;

/**
 * Call `fn` after `ms` milliseconds, for any `ms` (longer delays than
 * `setTimeout` allows are chained, never fired early).
 */
export function after(ms: number, fn: () => void): Cancel {
  let handle: ReturnType<typeof setTimeout>;
  const arm = (left: number) => {
    if (left > MAX_TIMER_MS) {
      handle = setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS);
    } else handle = setTimeout(fn, Math.max(0, left));
  };
  arm(ms);
  return () => clearTimeout(handle);
}

/** Resolve after `ms`; reject with the signal's reason if it aborts first. */
export function delay(
  ms: number,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const cancel = after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Options of {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Aborting rejects at once with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** The error to reject with when the time is up. */
  onTimeout: () => Error;
}

/**
 * `promise`, or a rejection with `options.onTimeout()` after `ms`, or with
 * the signal's reason when it aborts, whichever comes first. A late
 * rejection of `promise` is swallowed: nobody waits for it any more.
 */
export function deadline<T>(promise: Promise<T>, ms: number, options: DeadlineOptions): Promise<T> {
  promise.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const { signal } = options;
    const done = () => {
      cancel();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    const cancel = after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      reject(options.onTimeout());
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then((value) => {
      done();
      resolve(value);
    }, (error) => {
      done();
      reject(error);
    });
  });
}

/**
 * Whether `promise` settles within `ms` (it is not cancelled either way).
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const late = Symbol("late");
  const result = await deadline(promise.then(() => true, () => true), ms, {
    onTimeout: () => new Error("late"),
  }).catch(() => late);
  return result !== late;
}

/**
 * Map `items` through `fn`, at most `concurrency` at once; results in the
 * items' order. `fn` must not reject (wrap failures into its result).
 */
export async function pooledMap<I, T>(
  items: readonly I[],
  concurrency: number,
  fn: (item: I, index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  const workers = Math.min(Math.max(1, concurrency), items.length);
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
