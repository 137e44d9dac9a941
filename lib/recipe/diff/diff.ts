/**
 * `corral diff`: one recipe run on two QEMU builds — at once when memory
 * allows — with the same seed, and the runs compared (see `compare.ts`).
 *
 * @module
 */

import { qemuBuild } from "../qemu_build.ts";
import { join } from "node:path";
import { ExplorationError } from "../../errors.ts";
import { makePrivateDir } from "../../_runtime_dir.ts";
import type { Recipe } from "../model.ts";
import { readEvents } from "../report.ts";
import { runRecipe } from "../run.ts";
import { defaultBudgetMiB } from "../suite/admission.ts";
import { recipeMemoryMiB, withQemu } from "../suite/collect.ts";
import { compareRuns, type Difference, type RunRecord, type Tolerance } from "./compare.ts";

/** Options of {@linkcode diffRecipe}. */
export interface DiffOptions {
  /** The two QEMU binaries. */
  builds: readonly [string, string];
  /** The seed both runs draw their picks from. */
  seed: number;
  /** How far metrics may differ. Default 20 %, and 5 ms (or % points) of noise. */
  tolerance?: Tolerance;
  /** Run one after the other even when memory allows both at once. */
  serial?: boolean;
  /** Run each build this many times: steps, replies and events must differ in every pairing, metrics beyond their ranges. Default 1. */
  repeat?: number;
  /** Keep each run's report in `DIR/A` and `DIR/B` (else they go once compared). */
  reportDir?: string;
  /** Aborting it (Ctrl-C) stops both runs (their `finally` runs). */
  signal?: AbortSignal;
  /** Progress, line by line. */
  log?: (line: string) => void;
}

/** One build's run. */
export interface DiffRun {
  /** `A` or `B`. */
  name: string;
  /** The QEMU binary. */
  build: string;
  /** Its `--version` line. */
  version: string;
  /** Each run's record (`repeat` of them). */
  records: RunRecord[];
}

/** What {@linkcode diffRecipe} found. */
export interface DiffResult {
  /** The two runs. */
  runs: [DiffRun, DiffRun];
  /** Every difference, in the order: verdict, steps and replies, events, metrics. */
  differences: Difference[];
  /** Whether they ran at the same time. */
  together: boolean;
}

/**
 * Run `recipe` on both builds and compare the runs.
 *
 * @throws {ExplorationError} A build does not run, or the recipe has VMs corral does not launch.
 *
 * @example
 * ```ts ignore
 * import { diffRecipe, loadRecipe } from "../mod.ts";
 *
 * const recipe = await loadRecipe("recipes/crash-drill.yaml");
 * const { differences } = await diffRecipe(recipe, {
 *   builds: ["qemu-system-x86_64", "/opt/qemu-10/bin/qemu-system-x86_64"], seed: 1,
 * });
 * for (const d of differences) console.log(`${d.where}: ${d.what}`);
 * ```
 */
export async function diffRecipe(recipe: Recipe, options: DiffOptions): Promise<DiffResult> {
  const attached = recipe.inventory.filter((vm) => !vm.spec).map((vm) => vm.name);
  if (attached.length) {
    throw new ExplorationError(
      `corral diff launches every VM on each build; ${attached.join(", ")} ${
        attached.length === 1 ? "is" : "are"
      } attached (a QEMU corral did not start), whose build it cannot choose`,
    );
  }
  const versions = await Promise.all(options.builds.map(versionOf));
  const log = options.log ?? (() => {});
  const needed = 2 * recipeMemoryMiB(recipe);
  const together = !options.serial && needed <= defaultBudgetMiB();
  const names = ["A", "B"] as const;
  names.forEach((name, i) => log(`${name}: ${options.builds[i]} (${versions[i]})`));
  log(together ? `both at once (${needed} MiB)` : "one after the other");
  const base = options.reportDir ?? await makePrivateDir("diff-");
  const repeat = options.repeat ?? 1;
  try {
    const records: [RunRecord[], RunRecord[]] = [[], []];
    for (let i = 1; i <= repeat && !options.signal?.aborted; i++) {
      const one = (n: 0 | 1) => {
        const dir = join(base, repeat > 1 ? `${names[n]}-${i}` : names[n]);
        const label = repeat > 1 ? `${names[n]} ${i}/${repeat}` : names[n];
        return runOn(recipe, options, names[n], label, dir).then((record) =>
          records[n].push(record)
        );
      };
      if (together) await Promise.all([one(0), one(1)]);
      else await one(0).then(() => one(1));
    }
    const runs = names.map((name, i) => ({
      name,
      build: options.builds[i]!,
      version: versions[i]!,
      records: records[i]!,
    })) as [DiffRun, DiffRun];
    const tolerance = options.tolerance ?? { relative: 0.2, absolute: 5 };
    const done = Math.min(records[0].length, records[1].length);
    if (done === 0) return { runs, differences: [], together };
    const differences = compareRuns(
      records[0].slice(0, done),
      records[1].slice(0, done),
      tolerance,
    );
    return { runs, differences, together };
  } finally {
    if (!options.reportDir) await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

async function runOn(
  recipe: Recipe,
  options: DiffOptions,
  name: "A" | "B",
  label: string,
  dir: string,
): Promise<RunRecord> {
  const build = options.builds[name === "A" ? 0 : 1];
  const { journal } = await runRecipe(withQemu(recipe, build), {
    seed: options.seed,
    reportDir: dir,
    force: true,
    signal: options.signal,
  });
  options.log?.(
    `${label}: ${journal.verdict} (${journal.reason}), ${(journal.durationMs / 1000).toFixed(1)} s`,
  );
  return { name, journal, events: await readEvents(join(dir, "events.jsonl")) };
}

/** A build's `--version` line; a clear error when it does not run. */
async function versionOf(build: string): Promise<string> {
  const version = await qemuBuild(build);
  if (version === undefined) {
    throw new ExplorationError(`cannot run the QEMU build ${build} (${build} --version failed)`);
  }
  return version;
}
