/**
 * The `corral` command line: `run`, `check` and `plan` a recipe.
 *
 * ```sh
 * deno task run recipes/crash-drill.yaml --report .report/drill
 * deno task check recipes/crash-drill.yaml
 * deno task plan recipes/crash-drill.yaml --seed 7
 * ```
 *
 * Exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error, 130
 * interrupted.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { CorralError } from "../errors.ts";
import { launch } from "../vm/launch.ts";
import { handleExitSignals, killAllLaunched, releaseAllLaunched } from "../vm/exit_cleanup.ts";
import { Vm } from "../vm/vm.ts";
import { parseDuration } from "../recipe/duration.ts";
import type { Recipe, Step } from "../recipe/model.ts";
import { loadRecipe, RecipeError } from "../recipe/parse.ts";
import { formatPlan, planRecipe, randomSeed } from "../recipe/plan.ts";
import { summary } from "../recipe/report.ts";
import { runRecipe } from "../recipe/run.ts";

const USAGE: Record<string, string> = {
  run: `usage: corral run RECIPE [options]

Run a recipe: launch its VMs, run every step, always run finally, print a
summary, and stop the VMs corral launched.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --seed N           seed for picks (default: random, printed)
  --forks N          act on at most N VMs at once (default: the recipe's)
  --deadline DUR     deadline for the whole run, e.g. 5m (finally still runs)
  --report DIR       write events.jsonl, journal.json, junit.xml, vms/*/{console,qmp}.log
  --keep             leave the VMs running at the end
  --json             print the journal as JSON on stdout (progress goes to stderr)
  -h, --help         this help

exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error, 130 interrupted`,
  check: `usage: corral check RECIPE [options]

Validate a recipe without running anything: every problem is reported as
FILE:LINE:COL: message, and the exit code is 2 if there is any.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --live             also check each qmp step's command and arguments against
                     QEMU's own schema (starts a QMP-only QEMU, or asks the
                     attached VMs; launches no guest)
  -h, --help         this help`,
  plan: `usage: corral plan RECIPE [options]

Print what run would do: resolved targets, batches, seed, every step
(cleanup included) marked read-only or mutating. Touches nothing.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --seed N           seed for picks (default: random, printed)
  -h, --help         this help`,
};

/** Run the command line `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "-h" || command === "--help" || !(command in USAGE)) {
    console.error(
      `usage: corral run|check|plan RECIPE [options]\n\n${
        command && !(command in USAGE) && command !== "-h" && command !== "--help"
          ? `unknown command '${command}'\n\n`
          : ""
      }Try: corral run --help`,
    );
    return command === "-h" || command === "--help" ? 0 : 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        var: { type: "string", multiple: true, default: [] },
        seed: { type: "string" },
        forks: { type: "string" },
        deadline: { type: "string" },
        report: { type: "string" },
        keep: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        live: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`corral ${command}: ${(error as Error).message}\n\n${USAGE[command]}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE[command]);
    return 0;
  }
  const problems: string[] = [];
  if (positionals.length !== 1) {
    problems.push(`expected one recipe file, got ${positionals.length}`);
  }
  const vars: Record<string, string> = {};
  for (const pair of values.var) {
    const match = /^([\w-]+)=(.*)$/s.exec(pair);
    if (match) vars[match[1]!] = match[2]!;
    else problems.push(`--var ${pair}: write --var NAME=VALUE`);
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) {
    problems.push(`--seed ${values.seed}: a whole number from 0 to 4294967295`);
  }
  const forks = values.forks === undefined ? undefined : Number(values.forks);
  if (forks !== undefined && (!Number.isInteger(forks) || forks < 1)) {
    problems.push(`--forks ${values.forks}: a positive whole number`);
  }
  const deadline = values.deadline === undefined ? undefined : parseDuration(values.deadline);
  if (values.deadline !== undefined && deadline === undefined) {
    problems.push(`--deadline ${values.deadline}: a duration like 90s or 5m`);
  }
  if (problems.length > 0) {
    console.error(`corral ${command}: ${problems.join("\n")}\n\n${USAGE[command]}`);
    return 2;
  }
  let recipe: Recipe;
  try {
    recipe = await loadRecipe(positionals[0]!, { vars });
    if (command !== "run") planRecipe(recipe, seed ?? 0);
  } catch (error) {
    if (error instanceof RecipeError) {
      console.error(error.message);
      console.error(`${error.issues.length} problem(s); nothing was run.`);
      return 2;
    }
    throw error;
  }
  if (command === "check") return await check(recipe, values.live);
  if (command === "plan") {
    console.log(formatPlan(planRecipe(recipe, seed ?? randomSeed())));
    return 0;
  }
  return await run(recipe, {
    seed,
    forks,
    deadline,
    report: values.report,
    keep: values.keep,
    json: values.json,
  });
}

async function check(recipe: Recipe, live: boolean): Promise<number> {
  const qmpSteps = flatten([...recipe.steps, ...recipe.finally]).filter((step) =>
    step.action.kind === "qmp"
  );
  if (live && qmpSteps.length > 0) {
    const problems = await liveProblems(recipe, qmpSteps);
    if (problems.length > 0) {
      for (const problem of problems) console.error(problem);
      console.error(`${problems.length} problem(s) against QEMU's schema.`);
      return 2;
    }
  }
  const count = flatten([...recipe.steps, ...recipe.finally]).length;
  console.log(
    `${recipe.file}: ok: ${recipe.inventory.length} VM(s), ${count} step(s)${
      live ? ", qmp steps checked against QEMU's schema" : ""
    }`,
  );
  return 0;
}

async function liveProblems(recipe: Recipe, steps: Step[]): Promise<string[]> {
  const attached = recipe.inventory.find((vm) => vm.attach);
  const binary = recipe.inventory.find((vm) => vm.spec)?.spec?.qemu;
  await using vm = attached
    ? await Vm.connect(attached.attach!, { name: attached.name })
    : await launch({ name: "corral-check", guest: "none", qemu: binary });
  const schema = await vm.schema();
  const problems: string[] = [];
  for (const step of steps) {
    if (step.action.kind !== "qmp") continue;
    const args = step.action.arguments;
    const hasTemplate = JSON.stringify(args ?? null).includes('"$template"');
    if (hasTemplate) continue;
    for (
      const problem of schema.check(
        step.action.execute,
        args as Record<string, unknown> | undefined,
      )
    ) {
      problems.push(`${step.pos.file}:${step.pos.line}:${step.pos.col}: ${problem}`);
    }
  }
  return problems;
}

function flatten(steps: readonly Step[]): Step[] {
  return steps.flatMap((step) =>
    step.action.kind === "block"
      ? [step, ...flatten([...step.action.steps, ...step.action.rescue, ...step.action.always])]
      : [step]
  );
}

interface RunFlags {
  seed: number | undefined;
  forks: number | undefined;
  deadline: number | undefined;
  report: string | undefined;
  keep: boolean;
  json: boolean;
}

async function run(recipe: Recipe, flags: RunFlags): Promise<number> {
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  const write = (line: string) => (flags.json ? console.error(line) : console.log(line));
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts === 1) {
      write(
        "interrupted: stopping the steps, running finally and cleanup (interrupt again to kill everything now)",
      );
      controller.abort(new CorralError("interrupted"));
    } else {
      killAllLaunched();
      Deno.exit(130);
    }
  };
  handleExitSignals(false);
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const result = await runRecipe(recipe, {
      seed: flags.seed,
      forks: flags.forks,
      deadline: flags.deadline,
      keep: flags.keep,
      reportDir: flags.report,
      signal: controller.signal,
      log: write,
      color,
    });
    write("");
    write(summary(result.journal, color));
    if (flags.report) {
      write(
        `report: ${flags.report} (journal.json, junit.xml, events.jsonl, vms/*/console.log, vms/*/qmp.log)`,
      );
    }
    if (flags.json) console.log(JSON.stringify(result.journal, null, 2));
    if (flags.keep && result.vms.size > 0) {
      releaseAllLaunched();
      write(
        `kept running: ${
          [...result.vms.values()].map((vm) => `${vm.name} (pid ${vm.pid ?? "attached"})`).join(
            ", ",
          )
        }`,
      );
    }
    return interrupts > 0 ? 130 : result.exitCode;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    handleExitSignals(true);
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // --keep leaves QEMUs running: exit explicitly, without the exit-cleanup hook killing them.
  if (code !== 0 || Deno.args.includes("--keep")) Deno.exit(code);
}
