import { CheckpointError } from "../../errors.ts";
import { handleExitSignals } from "../../vm/exit_cleanup.ts";
import { parseDuration } from "../../recipe/duration.ts";
import type { Recipe } from "../../recipe/model.ts";
import type { Plan, PlannedStep } from "../../recipe/plan.ts";
import { ReportDirError, summary } from "../../recipe/report.ts";
import { runRecipe } from "../../recipe/run.ts";
import { LiveProgress } from "../_progress.ts";
import type { RunEvent, RunListener } from "../../recipe/run_events.ts";
import { terminalLines } from "../../recipe/live/terminal.ts";
import { progressEvents } from "../../recipe/live/progress.ts";
import { columns, userPath, wholeNumber } from "../_args.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand, flag, text } from "../command.ts";
import { pauseAtFailure } from "../_pause.ts";
import { Interrupts } from "../_interrupts.ts";

const USAGE = `usage: corral run RECIPE [options]

Run a recipe: launch its VMs, run every step, always run finally, print a
summary, and stop the VMs corral launched.

options:
  --var NAME=VALUE   set a recipe variable (repeatable); the recipe must declare it
  --secret-var NAME=VALUE
                     the same, and the value is masked everywhere
  --var-file FILE    variables from a YAML file of NAME: value, masked everywhere
                     (CORRAL_VAR_NAME in the environment sets a declared NAME too):
                     secrets that no terminal, shell history or ps shows
  --seed N           seed for picks (default: random, printed)
  --forks N          act on at most N VMs at once (default: the recipe's)
  --deadline DUR     deadline for the whole run, e.g. 5m (finally still runs)
  --report DIR       write report.html, events.jsonl, journal.json, junit.xml and
                     vms/*/{console,qmp}.log into DIR, which must be empty or new
  --force            empty a --report DIR that is not empty
  --keep             leave the VMs running at the end (corral ps lists them)
  --keep-on-failure  the same, only when the verdict is not pass
  --json             print the journal as JSON on stdout (progress goes to stderr)
  --max-vms N        allow an inventory of more than 1000 VMs
  --limit SELECTOR   only these VMs (names, groups, globs, all:!x): the others
                     are not brought up
  --start-at STEP    skip the steps before the step named STEP (finally runs)
  --checkpoints DIR  checkpoint: NAME steps save every VM (paused at one moment)
                     into DIR/NAME
  --resume-from NAME start the lab from checkpoint NAME in --checkpoints DIR (no
                     boot) and run the steps after it, with the checkpoint's seed;
                     refused when the recipe, a VM or the QEMU build changed
  --step             ask before each step: run it, skip it, or continue
  --pause-on-failure at the first failing step, leave the lab as it is (faults
                     active) and look inside from this terminal (exec, qmp,
                     console, ssh); Enter goes on to rescue and finally, q aborts
  -q, --quiet        print the verdict only
  -v, --verbose      print every VM's line of every step, and every QMP message
                     of the run as it goes (secrets masked)
  -h, --help         this help

On a terminal (and without NO_COLOR) each running step is one line, redrawn
in place, then a summary table; elsewhere, or with -v, a line per VM per step.

Ctrl-C stops the steps and runs finally and cleanup on live VMs; a second
Ctrl-C kills every QEMU at once.

exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error,
130 interrupted (SIGINT), 143 terminated (SIGTERM)`;

/** `corral run RECIPE`: launch, run every step, always finally, summary, verdict. */
export default defineCommand({
  name: "run",
  synopsis: "RECIPE [options]",
  usage: USAGE,
  flags: {
    ...RECIPE_FLAGS,
    seed: { type: "string" },
    forks: { type: "string" },
    deadline: { type: "string" },
    report: { type: "string" },
    force: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    "keep-on-failure": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    limit: { type: "string" },
    "start-at": { type: "string" },
    checkpoints: { type: "string" },
    "resume-from": { type: "string" },
    step: { type: "boolean", default: false },
    "pause-on-failure": { type: "boolean", default: false },
    verbose: { type: "boolean", short: "v", default: false },
    quiet: { type: "boolean", short: "q", default: false },
  },
  async run(context) {
    const { values } = context;
    let forks: number | undefined;
    let deadline: number | undefined;
    const loaded = await loadRecipeFor("run", USAGE, context, (problems) => {
      forks = wholeNumber(text(values, "forks"), "--forks", 1, Infinity, problems);
      const given = text(values, "deadline");
      deadline = given === undefined ? undefined : parseDuration(given);
      if (given !== undefined && deadline === undefined) {
        problems.push(`--deadline ${given}: a duration like 90s or 5m`);
      }
      if (text(values, "resume-from") !== undefined && text(values, "checkpoints") === undefined) {
        problems.push("--resume-from needs --checkpoints DIR: the folder the checkpoint is in");
      }
      for (const asks of ["step", "pause-on-failure"]) {
        if (flag(values, asks) && !Deno.stdin.isTerminal()) {
          problems.push(`--${asks} asks on a terminal, and standard input is not one`);
        }
      }
    });
    if (typeof loaded === "number") return loaded;
    const { recipe, seed, control, plan } = loaded;
    const keeping = flag(values, "keep") || flag(values, "keep-on-failure");
    if (keeping && recipe.inventory.some((vm) => vm.spec?.host)) {
      console.error(
        "corral run: --keep cannot keep VMs on SSH hosts: they die with corral's connection " +
          "to their host (by design, so nothing outlives a lost corral there)",
      );
      return 2;
    }
    // Resumed without --seed, the run draws its picks from the checkpoint's seed: planned there.
    const resumedSeed = control.resumeFrom !== undefined && text(values, "seed") === undefined;
    return await runRecipeCli(recipe, {
      ...control,
      plan: resumedSeed ? undefined : plan,
      checkpoints: userPath(text(values, "checkpoints")),
      step: flag(values, "step"),
      pause: flag(values, "pause-on-failure"),
      verbose: flag(values, "verbose"),
      quiet: flag(values, "quiet"),
      seed,
      forks,
      deadline,
      report: userPath(text(values, "report")),
      force: flag(values, "force"),
      keep: flag(values, "keep") || (flag(values, "keep-on-failure") && "on-failure"),
      json: flag(values, "json"),
    });
  },
});

interface RunFlags {
  plan: Plan | undefined;
  limit: string | undefined;
  startAt: string | undefined;
  resumeFrom: string | undefined;
  checkpoints: string | undefined;
  step: boolean;
  pause: boolean;
  verbose: boolean;
  quiet: boolean;
  seed: number;
  forks: number | undefined;
  deadline: number | undefined;
  report: string | undefined;
  force: boolean;
  keep: boolean | "on-failure";
  json: boolean;
}

/** `--step`: ask on the terminal before a step (prompt() reads a line from it). */
function askStep(planned: PlannedStep): Promise<"run" | "skip" | "all"> {
  const targets = planned.targets.join(", ") || "no VM";
  const question =
    `step '${planned.step.name}' on ${targets}: [y]es, [n]o, [c]ontinue without asking?`;
  for (;;) {
    const answer = prompt(question);
    if (answer === null) return Promise.resolve("skip");
    const word = answer.trim().toLowerCase();
    if (word === "y" || word === "yes" || word === "") return Promise.resolve("run");
    if (word === "n" || word === "no") return Promise.resolve("skip");
    if (word === "c" || word === "continue") return Promise.resolve("all");
  }
}

async function runRecipeCli(recipe: Recipe, flags: RunFlags): Promise<number> {
  // Progress goes to stdout, or to stderr when stdout carries the JSON journal.
  const stream = flags.json ? Deno.stderr : Deno.stdout;
  const terminal = stream.isTerminal() && !Deno.env.get("NO_COLOR");
  const color = terminal;
  const print = (line: string) => (flags.json ? console.error(line) : console.log(line));
  // A pause talks on the terminal: lines, not a redrawn display.
  const live = terminal && !flags.verbose && !flags.quiet && !flags.pause
    ? new LiveProgress({
      write: (text) => stream.writeSync(new TextEncoder().encode(text)),
      color,
      columns: columns(stream),
    })
    : undefined;
  const write = (line: string) => {
    if (flags.quiet) return;
    if (!live) return print(line);
    live.line(line);
  };
  const interrupts = new Interrupts(write, "stopping the steps, running finally and cleanup");
  handleExitSignals(false);
  try {
    const result = await runRecipe(recipe, {
      plan: flags.plan,
      ...(flags.plan ? {} : { limit: flags.limit, startAt: flags.startAt }),
      checkpoints: flags.checkpoints,
      resumeFrom: flags.resumeFrom,
      trace: flags.verbose ? (line) => console.error(line) : undefined,
      confirm: flags.step ? askStep : undefined,
      onFailure: flags.pause ? pauseAtFailure(print, interrupts.signal) : undefined,
      forks: flags.forks,
      deadline: flags.deadline,
      keep: flags.keep,
      reportDir: flags.report,
      force: flags.force,
      signal: interrupts.signal,
      listeners: [live ? liveListener(live, write, color) : terminalLines(write, color)],
    });
    live?.stop();
    if (flags.quiet) {
      print(summary(result.journal, color).split("\n").at(-1)!);
    } else {
      write("");
      write(summary(result.journal, color, { width: columns(stream) }));
    }
    if (flags.report) {
      write(
        `report: ${flags.report}/report.html (and journal.json, junit.xml, events.jsonl, ` +
          `vms/*/console.log, vms/*/qmp.log)`,
      );
    }
    if (flags.json) console.log(JSON.stringify(result.journal, null, 2));
    if (flags.keep === true || result.kept.length > 0) {
      write(
        result.kept.length
          ? "kept running (corral ps lists them; corral gc --all stops them):"
          : "kept running: none (no launched VM was still running)",
      );
      for (const vm of result.kept) {
        write(
          `  ${vm.name}: pid ${vm.pid}, qmp unix:${vm.qmp}${
            vm.console ? `, console ${vm.console}` : ""
          }`,
        );
      }
    }
    return interrupts.exitCode ?? result.exitCode;
  } catch (error) {
    if (error instanceof ReportDirError || error instanceof CheckpointError) {
      console.error(`corral run: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    live?.stop();
    interrupts.remove();
    handleExitSignals(true);
  }
}

/** What a live display shows as its running line (VMs brought up, without a line). */
const LIVE: readonly RunEvent["type"][] = ["step-start", "vm-done", "step-end", "vm-up"];

/**
 * On a live display: steps, VMs done and VMs brought up show as its
 * running line; the rest prints above it as lines.
 */
function liveListener(
  live: LiveProgress,
  write: (line: string) => void,
  color: boolean,
): RunListener {
  const lines = terminalLines(write, color);
  const progress = progressEvents((event) => live.event(event));
  return (event) => {
    if (LIVE.includes(event.type)) progress(event);
    else lines(event);
  };
}
