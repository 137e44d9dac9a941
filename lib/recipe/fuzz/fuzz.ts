/**
 * `corral fuzz`: the recipe's VMs, workload, probes and invariants are the
 * system under test and its checker; corral draws fault schedules from a
 * seed and runs the recipe with each, and when one fails, shrinks it —
 * fewer faults, fewer targets, shorter windows, earlier — re-running each
 * smaller schedule and keeping it when it still fails the same way, until
 * none does. The smallest is written as `minimal.yaml`: a plain recipe.
 *
 * @module
 */

import { join } from "node:path";
import { ExplorationError } from "../../errors.ts";
import { resolveSelector, SelectorError } from "../../vm/select.ts";
import { unableWhy } from "../_fit.ts";
import type { RunJournal, Verdict } from "../journal.ts";
import type { Recipe } from "../model.ts";
import { type ParseOptions, parseRecipe } from "../parse.ts";
import { planRecipe } from "../plan.ts";
import { runRecipe } from "../run.ts";
import { failuresOf, withSchedule } from "./_recipe_text.ts";
import {
  describeFault,
  drawSchedule,
  FUZZ_FAULTS,
  type Schedule,
  shrink,
  type TargetCount,
} from "./schedule.ts";

/** Options of {@linkcode fuzzRecipe}. */
export interface FuzzOptions extends ParseOptions {
  /** The fault kinds to draw. Default: every kind of `FUZZ_FAULTS` some VM can take. */
  faults?: readonly string[];
  /** The VMs faults may target (a selector). Default: all. */
  on?: string;
  /** The window faults are drawn into, in ms. Default 60,000. */
  duration?: number;
  /** Runs with a fresh schedule each. Default 10. */
  runs?: number;
  /** Run `i` (from 0) draws its schedule from `seed + i`; the recipe's own picks use `seed`. Default: random. */
  seed?: number;
  /** At most this many faults in a schedule. Default 3. */
  maxFaults?: number;
  /** How many VMs one fault takes. Default: one, minority, majority. */
  targets?: readonly TargetCount[];
  /** ms of quiet after the last fault. Default 1,000. */
  settle?: number;
  /** At most this many runs while shrinking. Default 50. */
  shrinkRuns?: number;
  /** Each run's report goes into `DIR/run-N` (`DIR/shrink-N`), and `minimal.yaml` into `DIR`. */
  reportDir?: string;
  /** Aborting it (Ctrl-C) ends the current run (its faults healed) and fuzzing. */
  signal?: AbortSignal;
  /** Progress, line by line. */
  log?: (line: string) => void;
}

/** One run of a fuzz: its schedule and how it went. */
export interface FuzzRun {
  /** `run-3`, `shrink-12`. */
  label: string;
  /** The schedule it ran. */
  schedule: Schedule;
  /** The run's verdict. */
  verdict: Verdict;
  /** Why. */
  reason: string;
  /** What failed, by name (empty when it passed). */
  failures: string[];
}

/** What a fuzz found. */
export interface FuzzResult {
  /** Every run, shrinking's included, in order. */
  runs: FuzzRun[];
  /** The first failing run's schedule shrunk, when a run failed. */
  minimal?: {
    /** The smallest schedule found that still fails. */
    schedule: Schedule;
    /** The run that found it failing. */
    run: FuzzRun;
    /** The recipe with that schedule as its fault steps. */
    yaml: string;
    /** Whether no smaller schedule failed (else the shrink budget ran out). */
    complete: boolean;
    /** Whether it failed again when re-run. */
    confirmed: boolean;
    /** Runs shrinking took. */
    runs: number;
  };
  /** 0 every run passed, 1 a failure found, 3 a run could not tell, 130 interrupted. */
  exitCode: number;
}

/**
 * Fuzz the recipe `text` (read from `file`): draw schedules, run them, and
 * shrink the first that fails.
 *
 * @throws {ExplorationError} The recipe has nothing that judges a run, or no VM can take the faults.
 *
 * @example A schedule that passes
 * ```ts ignore
 * import { fuzzRecipe } from "./fuzz.ts";
 *
 * const text = await Deno.readTextFile("recipes/partition-drill.yaml");
 * const result = await fuzzRecipe(text, "recipes/partition-drill.yaml", {
 *   faults: ["partition", "stall"], duration: 20_000, runs: 5, seed: 1,
 * });
 * console.log(result.exitCode, result.minimal?.yaml);
 * ```
 */
export async function fuzzRecipe(
  text: string,
  file: string,
  options: FuzzOptions = {},
): Promise<FuzzResult> {
  const recipe = parseRecipe(text, file, options);
  const seed = options.seed ?? Math.floor(Math.random() * 0xffffffff);
  const fuzz = new Fuzz(text, recipe, { ...options, seed });
  return await fuzz.run();
}

class Fuzz {
  #text: string;
  #recipe: Recipe;
  #options: FuzzOptions & { seed: number };
  #faults: { fault: string; vms: string[] }[];
  #clock: string;
  #log: (line: string) => void;
  readonly runs: FuzzRun[] = [];

  constructor(text: string, recipe: Recipe, options: FuzzOptions & { seed: number }) {
    this.#text = text;
    this.#recipe = recipe;
    this.#options = options;
    this.#log = options.log ?? (() => {});
    if (
      !recipe.probes.length && !recipe.invariants?.length && !recipe.metrics.length && !recipe.watch
    ) {
      throw new ExplorationError(
        `${recipe.file}: nothing would judge a run — add probes with metrics, invariants or a ` +
          "console watch: a run that checks nothing is not a pass",
      );
    }
    const plan = planRecipe(recipe, options.seed);
    this.#clock = plan.vms[0]!;
    this.#faults = eligible(recipe, plan.vms, options.faults, options.on);
  }

  async run(): Promise<FuzzResult> {
    const { runs = 10, seed } = this.#options;
    const kinds = this.#faults.map((f) => `${f.fault} (${f.vms.join(", ")})`).join("; ");
    this.#log(`fuzz ${this.#recipe.name}: ${runs} run(s), seed ${seed}; faults: ${kinds}`);
    let unsure = false;
    for (let i = 0; i < runs && !this.#options.signal?.aborted; i++) {
      const schedule = drawSchedule(seed + i, {
        faults: this.#faults,
        duration: this.#options.duration ?? 60_000,
        maxFaults: this.#options.maxFaults ?? 3,
        targets: this.#options.targets ?? ["one", "minority", "majority"],
      });
      const run = await this.#try(
        schedule,
        `run-${i + 1}`,
        `run ${i + 1}/${runs} (seed ${seed + i})`,
      );
      if (run.failures.length) return await this.#shrink(run);
      if (run.verdict !== "pass") unsure = true;
    }
    const exitCode = this.#options.signal?.aborted ? 130 : unsure ? 3 : 0;
    this.#log(
      exitCode === 0
        ? `every run passed (${this.runs.length})`
        : exitCode === 3
        ? "no failure found, but some run could not tell (above): not a pass"
        : "interrupted",
    );
    return { runs: this.runs, exitCode };
  }

  /** Run the recipe with `schedule`; log how it went. */
  async #try(schedule: Schedule, label: string, title: string): Promise<FuzzRun> {
    const recipeText = withSchedule(this.#text, schedule, this.#placement());
    const dir = this.#options.reportDir ? join(this.#options.reportDir, label) : undefined;
    const recipe = parseRecipe(recipeText, this.#recipe.file, this.#options);
    const { journal } = await runRecipe(recipe, {
      seed: this.#options.seed,
      reportDir: dir,
      force: true,
      signal: this.#options.signal,
    });
    if (dir) await Deno.writeTextFile(join(dir, "recipe.yaml"), recipeText);
    const run = {
      label,
      schedule,
      verdict: journal.verdict,
      reason: journal.reason,
      failures: failuresOf(journal),
    };
    this.runs.push(run);
    this.#log(`${title}: ${describe(schedule)}\n  → ${outcome(journal, run.failures)}`);
    return run;
  }

  #placement() {
    return { clock: this.#clock, settle: this.#options.settle ?? 1000 };
  }

  /** Shrink a failing run's schedule: keep each smaller one that fails the same way. */
  async #shrink(failing: FuzzRun): Promise<FuzzResult> {
    const budget = this.#options.shrinkRuns ?? 50;
    this.#log(`shrinking (at most ${budget} runs): a smaller schedule is kept when it fails too`);
    let used = 0;
    const last = new Map<Schedule, FuzzRun>([[failing.schedule, failing]]);
    let smallest = failing.schedule;
    const shrunk = await shrink(
      failing.schedule,
      async (candidate) => {
        used++;
        const run = await this.#try(candidate, `shrink-${used}`, `shrink ${used}`);
        last.set(candidate, run);
        const same = run.failures.some((f) => failing.failures.includes(f));
        // The confirming re-run of the smallest is not a new smallest.
        if (same && candidate !== smallest) this.#log(`  smallest so far: ${describe(candidate)}`);
        if (same) smallest = candidate;
        return same;
      },
      budget,
      this.#options.signal,
    );
    const best = last.get(shrunk.schedule)!;
    const how = shrunk.complete
      ? "no smaller schedule failed"
      : "the budget or a re-run ended it: it may shrink further";
    const comment =
      ` The fault schedule corral fuzz found failing (${failing.label}, seed ${this.#options.seed}),\n` +
      ` shrunk in ${shrunk.runs} run(s): ${how}; ` +
      (shrunk.confirmed ? "it failed again when re-run.\n" : "not re-run.\n") +
      ` It failed with: ${best.failures.join("; ")}\n` +
      ` Reproduce: corral run minimal.yaml --seed ${this.#options.seed}`;
    const yaml = withSchedule(this.#text, shrunk.schedule, this.#placement(), comment);
    this.#log(`smallest failing schedule (${best.label}): ${describe(shrunk.schedule)}`);
    if (this.#options.reportDir) {
      const path = join(this.#options.reportDir, "minimal.yaml");
      await Deno.writeTextFile(path, yaml);
      this.#log(`minimal.yaml: ${path} (corral run reproduces it)`);
    }
    return {
      runs: this.runs,
      minimal: { ...shrunk, run: best, yaml },
      exitCode: this.#options.signal?.aborted ? 130 : 1,
    };
  }
}

/** The fault kinds to draw, each with the VMs that can take it. */
function eligible(
  recipe: Recipe,
  lab: readonly string[],
  wanted: readonly string[] | undefined,
  on: string | undefined,
): { fault: string; vms: string[] }[] {
  const unknown = (wanted ?? []).filter((f) => !(f in FUZZ_FAULTS));
  if (unknown.length) {
    throw new ExplorationError(
      `no such fault to fuzz with: ${unknown.join(", ")} (known: ${
        Object.keys(FUZZ_FAULTS).join(", ")
      })`,
    );
  }
  const members = recipe.inventory.filter((vm) => lab.includes(vm.name));
  const targets = new Set(on ? onlyThese(on, members) : lab);
  const out = (wanted ?? Object.keys(FUZZ_FAULTS)).map((fault) => {
    const action = actionOf(fault);
    const vms = members.filter((vm) =>
      targets.has(vm.name) && unableWhy(action, vm, recipe) === undefined
    );
    return { fault, vms: vms.map((vm) => vm.name) };
  });
  const none = out.filter((f) => f.vms.length === 0);
  if (wanted && none.length) {
    throw new ExplorationError(
      `no VM of ${recipe.file} can take: ${none.map((f) => f.fault).join(", ")}` +
        " (corral check says why for a step of it)",
    );
  }
  const usable = out.filter((f) => f.vms.length > 0);
  if (!usable.length) throw new ExplorationError(`no VM of ${recipe.file} can take any fault`);
  return usable;
}

/** The VMs `--on` selects; an unknown name says so. */
function onlyThese(on: string, members: Parameters<typeof resolveSelector>[1]): string[] {
  try {
    return resolveSelector(on, members);
  } catch (error) {
    if (!(error instanceof SelectorError)) throw error;
    throw new ExplorationError(`--on ${on}: ${error.message}`, { cause: error });
  }
}

/** A fault's action data, as a step with its first drawn value gives it. */
function actionOf(fault: string) {
  const value = FUZZ_FAULTS[fault]!.draw((items) => items[0]!);
  const text = JSON.stringify({
    recipe: 1,
    name: "fault",
    vms: { x: {} },
    steps: [{ name: "fault", [fault]: value }],
  });
  return parseRecipe(text, "fault.yaml").steps[0]!.action;
}

function describe(schedule: Schedule): string {
  const n = schedule.faults.length;
  return `${n} fault${n === 1 ? "" : "s"}: ${schedule.faults.map(describeFault).join("; ")}`;
}

function outcome(journal: RunJournal, failures: readonly string[]): string {
  if (failures.length) return `FAIL: ${failures.join("; ")}`;
  return `${journal.verdict}${journal.verdict === "pass" ? "" : `: ${journal.reason}`}`;
}
