/**
 * Run a suite: at most `jobs` recipes at once, each admitted by memory,
 * failures run again up to `reruns` times (a fail then a pass is *flaky*),
 * known failures excused by the quarantine until their date.
 *
 * @module
 */

import type { RunJournal, Verdict } from "../journal.ts";
import { runRecipe } from "../run.ts";
import type { SuiteEntry } from "./collect.ts";
import type { MemoryBudget } from "./admission.ts";
import { type Quarantine, quarantineOf } from "./quarantine.ts";

/** One run of one entry. */
export interface SuiteAttempt {
  verdict: Verdict;
  /** Why it did not pass. */
  reason?: string | undefined;
  durationMs: number;
  /** Its report directory (under the suite's), if reports were asked for. */
  report?: string | undefined;
  journal: RunJournal;
}

/** An entry's result: its attempts and what they add up to. */
export interface SuiteResult {
  entry: SuiteEntry;
  attempts: SuiteAttempt[];
  /** `pass`; `flaky` (failed, then passed on a rerun); `fail` (never passed). */
  outcome: "pass" | "flaky" | "fail";
  /** The quarantine entry about it, and whether it still holds. */
  quarantine?: (Quarantine & { holds: boolean }) | undefined;
}

/** What the suite does, as it does it. */
export type SuiteEvent =
  | { type: "wait"; id: string; memoryMiB: number; heldMiB: number; budgetMiB: number }
  | {
    type: "start";
    id: string;
    attempt: number;
    memoryMiB: number;
    heldMiB: number;
    budgetMiB: number;
  }
  | {
    type: "end";
    id: string;
    attempt: number;
    verdict: Verdict;
    durationMs: number;
    reason?: string | undefined;
  };

/** How to run a suite. */
export interface SuiteOptions {
  /** At most this many recipes at once. */
  jobs: number;
  /** The memory budget every run is admitted by. */
  budget: MemoryBudget;
  /** Run a failure again up to this many times. Default 0. */
  reruns?: number;
  /** A directory to write each run's report into (`DIR/NAME/`, `DIR/NAME~2/` for a rerun). */
  reportDir?: string | undefined;
  /** Known failures, excused until their date. */
  quarantine?: readonly Quarantine[];
  /** Today, YYYY-MM-DD (default: the date here). */
  today?: string;
  /** Stops the recipes that run (their finally runs) and starts no more. */
  signal?: AbortSignal;
  /** Told of every wait, start and end. */
  onEvent?: (event: SuiteEvent) => void;
}

/** Run every entry; the results in the entries' order. */
export async function runSuite(
  entries: readonly SuiteEntry[],
  options: SuiteOptions,
): Promise<SuiteResult[]> {
  const results: SuiteResult[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length && !options.signal?.aborted) {
      const index = next++;
      results[index] = await runEntry(entries[index]!, options);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker));
  return results.filter((r) => r !== undefined);
}

async function runEntry(entry: SuiteEntry, options: SuiteOptions): Promise<SuiteResult> {
  const attempts: SuiteAttempt[] = [];
  const tries = 1 + (options.reruns ?? 0);
  for (let attempt = 1; attempt <= tries; attempt++) {
    const done = await runOnce(entry, attempt, options);
    attempts.push(done);
    if (done.verdict === "pass" || options.signal?.aborted) break;
  }
  const passed = attempts.at(-1)!.verdict === "pass";
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  return {
    entry,
    attempts,
    outcome: passed ? (attempts.length > 1 ? "flaky" : "pass") : "fail",
    quarantine: quarantineOf(entry, options.quarantine ?? [], today),
  };
}

async function runOnce(
  entry: SuiteEntry,
  attempt: number,
  options: SuiteOptions,
): Promise<SuiteAttempt> {
  const { budget } = options;
  const memoryMiB = entry.memoryMiB;
  const state = (heldMiB: number) => ({
    id: entry.id,
    memoryMiB,
    heldMiB,
    budgetMiB: budget.budgetMiB,
  });
  if (!budget.fits(memoryMiB)) options.onEvent?.({ type: "wait", ...state(budget.held) });
  const { release, held } = await budget.admit(memoryMiB, options.signal);
  try {
    options.onEvent?.({ type: "start", attempt, ...state(held) });
    const report = options.reportDir === undefined
      ? undefined
      : `${options.reportDir}/${reportName(entry.id)}${attempt > 1 ? `~${attempt}` : ""}`;
    const { journal } = await runRecipe(entry.recipe, {
      reportDir: report,
      signal: options.signal,
    });
    const reason = journal.verdict === "pass" ? undefined : journal.reason;
    options.onEvent?.({
      type: "end",
      id: entry.id,
      attempt,
      verdict: journal.verdict,
      durationMs: journal.durationMs,
      reason,
    });
    return { verdict: journal.verdict, reason, durationMs: journal.durationMs, report, journal };
  } finally {
    release();
  }
}

/** A directory name for an entry id: its path's folders and matrix values, made safe. */
export function reportName(id: string): string {
  return id.replace(/\.ya?ml(?=\[|$)/, "").replace(/^\.?\//, "").replace(/[^\w.=,-]+/g, "_");
}

/** Whether the suite passed: every result passed or was flaky, or failed under a quarantine that holds. */
export function suitePassed(results: readonly SuiteResult[]): boolean {
  return results.every((r) => r.outcome !== "fail" || r.quarantine?.holds === true);
}
