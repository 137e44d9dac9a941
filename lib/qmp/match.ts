/**
 * Subset matching of JSON values, as QEMU's own test harness matches
 * event data: a pattern matches a value when every member the pattern names
 * is present in the value and matches in turn.
 *
 * @module
 */

/**
 * Whether `value` contains `pattern`: objects match when each of the
 * pattern's members matches the value's member of the same name (other
 * members of the value are ignored); arrays match element by element and must
 * be of the same length; anything else must be strictly equal.
 *
 * @param value The value to test, e.g. an event's `data`.
 * @param pattern The members that must be present.
 * @returns `true` when `value` contains `pattern`.
 *
 * @example
 * ```ts
 * import { subsetMatch } from "./match.ts";
 * import assert from "node:assert/strict";
 *
 * const data = { action: "pause", info: { type: "hyper-v" } };
 * assert.ok(subsetMatch(data, { action: "pause" }));
 * assert.ok(subsetMatch(data, { info: { type: "hyper-v" } }));
 * assert.ok(!subsetMatch(data, { action: "poweroff" }));
 * ```
 */
export function subsetMatch(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(value) && value.length === pattern.length &&
      pattern.every((item, index) => subsetMatch(value[index], item));
  }
  if (isObject(pattern)) {
    if (!isObject(value) || Array.isArray(value)) return false;
    return Object.entries(pattern).every(([key, item]) =>
      Object.hasOwn(value, key) && subsetMatch(value[key], item)
    );
  }
  return Object.is(value, pattern);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
