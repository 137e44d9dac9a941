/** Assertion helpers shared by the tests. */

import assert from "node:assert/strict";

/**
 * Settle `promise` or fail the test after `ms`: a guard against hangs, not a
 * speed assertion (the deadline is far above any expected time).
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Assert that `promise` rejects with an instance of `type`, and return the error. */
export async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  message?: RegExp,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${type.name}, but the promise resolved`);
}

/**
 * Read `reader` until the text read so far contains `marker` (or the stream
 * ends), each read within `ms`; resolves to the text.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  marker: string,
  ms: number,
  what: string,
): Promise<string> {
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await within(reader.read(), ms, what);
    if (done) break;
    text += value;
  }
  return text;
}
