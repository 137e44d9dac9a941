import { parseDuration } from "../../recipe/duration.ts";
import { fuzzRecipe } from "../../recipe/fuzz/fuzz.ts";
import { FUZZ_FAULTS, type TargetCount } from "../../recipe/fuzz/schedule.ts";
import { userPath, wholeNumber } from "../_args.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand, flag, text } from "../command.ts";
import { interruptible } from "../_interrupts.ts";

const USAGE = `usage: corral fuzz RECIPE [options]

Fuzz a recipe with fault schedules: its VMs, steps, probes, invariants and
metrics are the system under test and its checker. Each run draws a
schedule from the seed — which faults, on which VMs (one, a minority, a
majority), when and for how long — and runs the recipe with the schedule's
fault steps after its own. When a run fails, corral shrinks its schedule
(fewer faults, fewer targets, shorter windows, earlier), re-running each
smaller one and keeping it when it still fails the same way, and writes
the smallest as minimal.yaml: a plain recipe corral run reproduces.

options:
  --faults LIST      fault kinds to draw, comma-separated (default: each one
                     some VM can take): ${Object.keys(FUZZ_FAULTS).join(", ")}
  --on SELECTOR      the VMs faults may target (default: all)
  --duration DUR     the window faults are drawn into (default 60s)
  --runs N           runs, a fresh schedule each (default 10)
  --seed N           run i draws from seed N+i; the recipe's picks use N
                     (default: random, printed)
  --max-faults N     at most N faults per schedule (default 3)
  --targets LIST     how many VMs one fault takes: one, minority, majority,
                     all (default one,minority,majority)
  --settle DUR       quiet after the last fault ends (default 1s)
  --shrink-runs N    at most N runs while shrinking (default 50)
  --report DIR       each run's report into DIR/run-N (DIR/shrink-N), and
                     minimal.yaml into DIR, which must be empty or new
  --force            empty a --report DIR that is not empty
  --var, --secret-var, --var-file, --max-vms   as corral run
  -h, --help         this help

exit codes: 0 every run passed, 1 a failure found (and shrunk), 2 invalid
input, 3 no failure but a run could not tell, 130 interrupted`;

/** `corral fuzz RECIPE`: seeded fault schedules, the first failing one shrunk to minimal.yaml. */
export default defineCommand({
  name: "fuzz",
  synopsis: "RECIPE [options]",
  usage: USAGE,
  flags: {
    ...RECIPE_FLAGS,
    faults: { type: "string" },
    on: { type: "string" },
    duration: { type: "string" },
    runs: { type: "string" },
    seed: { type: "string" },
    "max-faults": { type: "string" },
    targets: { type: "string" },
    settle: { type: "string" },
    "shrink-runs": { type: "string" },
    report: { type: "string" },
    force: { type: "boolean", default: false },
  },
  async run(context) {
    const { values } = context;
    const numbers: Record<string, number | undefined> = {};
    const loaded = await loadRecipeFor("fuzz", USAGE, context, (problems) => {
      numbers.runs = wholeNumber(text(values, "runs"), "--runs", 1, 100_000, problems);
      numbers.maxFaults = wholeNumber(text(values, "max-faults"), "--max-faults", 1, 100, problems);
      numbers.shrinkRuns = wholeNumber(
        text(values, "shrink-runs"),
        "--shrink-runs",
        0,
        100_000,
        problems,
      );
      for (const [name, key] of [["duration", "duration"], ["settle", "settle"]] as const) {
        const given = text(values, name);
        numbers[key] = given === undefined ? undefined : parseDuration(given);
        if (given !== undefined && numbers[key] === undefined) {
          problems.push(`--${name} ${given}: a duration like 30s or 2m`);
        }
      }
      const targets = list(text(values, "targets"));
      const bad = targets?.filter((t) => !["one", "minority", "majority", "all"].includes(t));
      if (bad?.length) {
        problems.push(`--targets: one, minority, majority or all, not ${bad.join(", ")}`);
      }
    });
    if (typeof loaded === "number") return loaded;
    const report = userPath(text(values, "report"));
    if (report && !(await usable(report, flag(values, "force")))) return 2;
    const doing = "ending this run (its faults healed), then stopping";
    return await interruptible("fuzz", console.log, doing, async (signal) => {
      const file = loaded.recipe.file;
      const result = await fuzzRecipe(await Deno.readTextFile(file), file, {
        ...loaded.parsing,
        faults: list(text(values, "faults")),
        on: text(values, "on"),
        duration: numbers.duration,
        runs: numbers.runs,
        seed: loaded.seed,
        maxFaults: numbers.maxFaults,
        targets: list(text(values, "targets")) as TargetCount[] | undefined,
        settle: numbers.settle,
        shrinkRuns: numbers.shrinkRuns,
        reportDir: report,
        signal,
        log: (line) => console.log(line),
      });
      if (result.minimal && !report) console.log(`\n${result.minimal.yaml}`);
      return result.exitCode;
    });
  },
});

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(",").map((s) => s.trim()).filter(Boolean);
}

/** A report folder fuzz may fill: new, empty, or emptied with --force. */
async function usable(dir: string, force: boolean): Promise<boolean> {
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
  if (entries.length === 0) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return true;
  }
  if (!force) {
    console.error(`corral fuzz: --report ${dir} is not empty (--force empties it)`);
    return false;
  }
  await Deno.remove(dir, { recursive: true });
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  return true;
}
