/**
 * A quarantine file: known failures that do not fail the suite until a
 * date — `[{ recipe, reason, until }]`, `recipe` a recipe's `name` or its
 * path, `until` a date (YYYY-MM-DD) after which the entry no longer holds.
 *
 * @module
 */

import { parse } from "yaml";
import { CorralError } from "../../errors.ts";
import type { SuiteEntry } from "./collect.ts";

/** One known failure, excused until a date. */
export interface Quarantine {
  /** A recipe's `name`, or its path as given to `corral test`. */
  recipe: string;
  /** Why (shown in the summary and the index). */
  reason: string;
  /** The last day it holds (YYYY-MM-DD). */
  until: string;
}

/** A quarantine file could not be read (each problem with its entry's number). */
export class QuarantineError extends CorralError {}

/**
 * The entries of a quarantine file.
 *
 * @throws {QuarantineError} Not a list of `{ recipe, reason, until }`.
 */
export async function readQuarantine(file: string): Promise<Quarantine[]> {
  let data: unknown;
  try {
    data = parse(await Deno.readTextFile(file));
  } catch (cause) {
    throw new QuarantineError(
      `cannot read the quarantine file ${file}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (!Array.isArray(data)) {
    throw new QuarantineError(`${file}: a quarantine file is a list of { recipe, reason, until }`);
  }
  const problems: string[] = [];
  const entries = data.flatMap((item, i) => {
    const { recipe, reason, until } = (item ?? {}) as Record<string, unknown>;
    const date = until instanceof Date ? until.toISOString().slice(0, 10) : until;
    if (
      typeof recipe !== "string" || typeof reason !== "string" || typeof date !== "string" ||
      !/^\d{4}-\d{2}-\d{2}$/.test(date)
    ) {
      problems.push(`entry ${i + 1}: give recipe, reason and until (a date, YYYY-MM-DD)`);
      return [];
    }
    return [{ recipe, reason, until: date }];
  });
  if (problems.length) throw new QuarantineError(`${file}: ${problems.join("; ")}`);
  return entries;
}

/**
 * The quarantine entry about `entry` (by its recipe's name or its path),
 * and whether it still holds on `today` (YYYY-MM-DD).
 *
 * @example
 * ```ts
 * import { quarantineOf } from "./quarantine.ts";
 * import assert from "node:assert/strict";
 *
 * const list = [{ recipe: "flaky-net", reason: "#12", until: "2026-12-31" }];
 * const entry = { path: "r/a.yaml", recipe: { name: "flaky-net" } };
 * assert.equal(quarantineOf(entry, list, "2026-12-06")?.holds, true);
 * assert.equal(quarantineOf(entry, list, "2027-01-01")?.holds, false);
 * ```
 */
export function quarantineOf(
  entry: Pick<SuiteEntry, "path"> & { recipe: { name: string } },
  list: readonly Quarantine[],
  today: string,
): (Quarantine & { holds: boolean }) | undefined {
  const found = list.find((q) => q.recipe === entry.recipe.name || q.recipe === entry.path);
  return found && { ...found, holds: today <= found.until };
}
