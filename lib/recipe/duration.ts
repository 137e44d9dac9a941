/**
 * Durations in recipes: `500ms`, `20s`, `1.5m`, `2h`, or a bare number of
 * seconds.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds for a duration, or `undefined` when the text is not one.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDuration("20s"), 20_000);
 * assert.equal(parseDuration("250ms"), 250);
 * assert.equal(parseDuration(3), 3000);
 * assert.equal(parseDuration("soon"), undefined);
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** `1.5 s`, `250 ms`: a duration for people (the formatter every message uses). */
export { formatMs as showDuration } from "../_text.ts";
