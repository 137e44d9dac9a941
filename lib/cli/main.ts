/**
 * The `corral` command line: `run`, `check` and `plan` a recipe; `ps` and
 * `gc` for the VMs corral left running.
 *
 * ```sh
 * deno task run recipes/crash-drill.yaml --report .report/drill
 * deno task check recipes/crash-drill.yaml
 * deno task plan recipes/crash-drill.yaml --seed 7
 * ```
 *
 * Exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error, 130
 * interrupted (SIGINT), 143 terminated (SIGTERM).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { CorralError } from "../errors.ts";
import { formatMs } from "../_text.ts";
import { launch } from "../vm/launch.ts";
import { handleExitSignals, killAllLaunched } from "../vm/exit_cleanup.ts";
import { collectGarbage, listVms } from "../vm/registry.ts";
import { collectNetworks } from "../vm/network.ts";
import { Vm } from "../vm/vm.ts";
import { replay } from "../qmp/replay.ts";
import { isBlock } from "../recipe/actions/block.ts";
import type { Qmp } from "../recipe/actions/qmp.ts";
import { parseDuration } from "../recipe/duration.ts";
import type { Recipe, Step } from "../recipe/model.ts";
import { loadRecipe, RecipeError } from "../recipe/parse.ts";
import { formatPlan, type PlannedStep, planRecipe, randomSeed } from "../recipe/plan.ts";
import {
  readJournal,
  renderReport,
  ReportDirError,
  type RunJournal,
  summary,
} from "../recipe/report.ts";
import { LiveProgress, shownLive } from "./_progress.ts";
import { runRecipe } from "../recipe/run.ts";
import { isSecretName, Redactor } from "../recipe/secrets.ts";
import { shellMain } from "./shell.ts";
import config from "../../deno.json" with { type: "json" };

const USAGE: Record<string, string> = {
  run: `usage: corral run RECIPE [options]

Run a recipe: launch its VMs, run every step, always run finally, print a
summary, and stop the VMs corral launched.

options:
  --var NAME=VALUE   set a recipe variable (repeatable); the recipe must declare it
  --secret-var NAME=VALUE
                     the same, and the value is masked everywhere
  --seed N           seed for picks (default: random, printed)
  --forks N          act on at most N VMs at once (default: the recipe's)
  --deadline DUR     deadline for the whole run, e.g. 5m (finally still runs)
  --report DIR       write report.html, events.jsonl, journal.json, junit.xml and
                     vms/*/{console,qmp}.log into DIR, which must be empty or new
  --force            empty a --report DIR that is not empty
  --keep             leave the VMs running at the end (corral ps lists them)
  --json             print the journal as JSON on stdout (progress goes to stderr)
  --max-vms N        allow an inventory of more than 1000 VMs
  --limit SELECTOR   only these VMs (names, groups, globs, all:!x): the others
                     are not brought up
  --start-at STEP    skip the steps before the step named STEP (finally runs)
  --step             ask before each step: run it, skip it, or continue
  -q, --quiet        print the verdict only
  -v, --verbose      print every VM's line of every step, and every QMP message
                     of the run as it goes (secrets masked)
  -h, --help         this help

On a terminal (and without NO_COLOR) each running step is one line, redrawn
in place, then a summary table; elsewhere, or with -v, a line per VM per step.

Ctrl-C stops the steps and runs finally and cleanup on live VMs; a second
Ctrl-C kills every QEMU at once.

exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error,
130 interrupted (SIGINT), 143 terminated (SIGTERM)`,
  check: `usage: corral check RECIPE [options]

Validate a recipe without running anything: every problem is reported as
FILE:LINE:COL: message, and the exit code is 2 if there is any.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --secret-var NAME=VALUE
                     the same, masked in every message
  --max-vms N        allow an inventory of more than 1000 VMs
  --live             also check each qmp step's command and arguments against
                     QEMU's own schema (starts a QMP-only QEMU, or asks the
                     attached VMs; launches no guest)
  -h, --help         this help`,
  plan: `usage: corral plan RECIPE [options]

Print what run would do: resolved targets, batches, seed, every step
(cleanup included) marked read-only or mutating. Touches nothing.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --secret-var NAME=VALUE
                     the same, masked in every message
  --seed N           seed for picks (default: random, printed)
  --max-vms N        allow an inventory of more than 1000 VMs
  --limit SELECTOR   show the run limited to these VMs
  --start-at STEP    show the run starting at the step named STEP
  -h, --help         this help`,
  ps: `usage: corral ps [options]

List the VMs corral launched whose directories are still in the runtime
directory: name, QEMU pid, age, state (owned: its corral runs; kept: left
running with --keep; orphaned: its corral died; dead: only files are left)
and socket paths.

options:
  --json             print the list as JSON
  -h, --help         this help`,
  replay: `usage: corral replay QMP_LOG [options]

Serve a recorded qmp.log (a report's vms/NAME/qmp.log) as a QMP peer on a
unix socket, for one client: it sends what QEMU sent, in the recorded
order, and answers each request with the recorded reply (carrying the
client's id). Turns a bug in a user's report into a test without their QEMU.

options:
  --socket PATH      where to listen; it must not exist (default: replay.sock in a new private directory)
  -h, --help         this help`,
  shell: `usage: corral shell TARGET… [options]

An interactive QMP shell. TARGET is unix:/path, tcp:host:port, or the name
of a VM corral started that still runs (corral ps); with several, @SELECTOR
COMMAND runs a command on some of them. Type COMMAND key=value a.b=1
list=[1,2] name="two words", or a raw JSON request; Tab completes commands,
arguments and enum values from the VM's own schema; events print as they
come; wait EVENT waits for the next one; help lists the rest. Ctrl-C
cancels the command in flight, Ctrl-D leaves. History is kept in
$XDG_STATE_HOME/corral/shell_history. With standard input not a terminal,
it runs the lines as a script and stops at the first error (exit 1).

options:
  --hmp              every line is a human monitor (HMP) command
  --agent            TARGET is a guest agent's socket (qemu-ga): synced on
                     connect and after every timeout, commands completed from
                     the agent's own list
  --log FILE         append a transcript to FILE
  -h, --help         this help`,
  report: `usage: corral report DIR

Draw a run's report again from its journal.json and events.jsonl (a --report
directory, an old one included): writes DIR/report.html and prints the
summary.

options:
  -h, --help         this help`,
  completions: `usage: corral completions bash|zsh

Print a shell completion script for corral's commands and options:
  corral completions bash > ~/.local/share/bash-completion/completions/corral
  corral completions zsh > "\${fpath[1]}/_corral"`,
  gc: `usage: corral gc [options]

Stop orphaned VMs (their corral died) and remove the directories of VMs
that no longer run. VMs whose corral still runs are never touched.

options:
  --all              stop kept VMs (--keep) too
  -h, --help         this help`,
};

/** Run the command line `args`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "--version" || command === "-V") {
    console.log(`corral ${config.version}`);
    return 0;
  }
  if (!command || command === "-h" || command === "--help" || !(command in USAGE)) {
    const unknown = command && !(command in USAGE) && command !== "-h" && command !== "--help";
    console.error(
      `usage: corral run|check|plan RECIPE [options]\n       corral shell TARGET…\n       corral ps|gc [options]\n       corral report DIR\n       corral replay QMP_LOG\n       corral completions bash|zsh\n       corral --version\n\n${
        unknown ? `unknown command '${command}'\n\n` : ""
      }Try: corral run --help`,
    );
    return unknown || !command ? 2 : 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        var: { type: "string", multiple: true, default: [] },
        "secret-var": { type: "string", multiple: true, default: [] },
        seed: { type: "string" },
        forks: { type: "string" },
        deadline: { type: "string" },
        report: { type: "string" },
        force: { type: "boolean", default: false },
        keep: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        live: { type: "boolean", default: false },
        all: { type: "boolean", default: false },
        "max-vms": { type: "string" },
        socket: { type: "string" },
        hmp: { type: "boolean", default: false },
        agent: { type: "boolean", default: false },
        names: { type: "boolean", default: false },
        limit: { type: "string" },
        "start-at": { type: "string" },
        step: { type: "boolean", default: false },
        verbose: { type: "boolean", short: "v", default: false },
        quiet: { type: "boolean", short: "q", default: false },
        log: { type: "string" },
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
  if (command === "ps") return await ps(values.json, values.names);
  if (command === "completions") return completions(positionals[0]);
  if (command === "shell") {
    if (positionals.length === 0) {
      console.error(`corral shell: name a VM or a QMP address\n\n${USAGE.shell}`);
      return 2;
    }
    return await shellMain(positionals, {
      hmp: values.hmp,
      agent: values.agent,
      log: userPath(values.log),
    });
  }
  if (command === "gc") return await gc(values.all);
  if (command === "replay") return await serveReplay(positionals, values.socket);
  if (command === "report") return await redraw(positionals);
  const problems: string[] = [];
  if (positionals.length !== 1) {
    problems.push(`expected one recipe file, got ${positionals.length}`);
  }
  const vars = assignments(values.var, "--var", problems);
  const secretVars = assignments(values["secret-var"], "--secret-var", problems);
  // Secrets given on the command line are masked in every message, errors included.
  const cliSecrets = new Redactor({ ...vars, ...secretVars }, [
    ...Object.keys(vars).filter(isSecretName),
    ...Object.keys(secretVars),
  ]);
  const seed = wholeNumber(values.seed, "--seed", 0, 0xffffffff, problems);
  const forks = wholeNumber(values.forks, "--forks", 1, Infinity, problems);
  const maxVms = wholeNumber(values["max-vms"], "--max-vms", 1, Infinity, problems);
  const deadline = values.deadline === undefined ? undefined : parseDuration(values.deadline);
  if (values.deadline !== undefined && deadline === undefined) {
    problems.push(`--deadline ${values.deadline}: a duration like 90s or 5m`);
  }
  if (problems.length > 0) {
    console.error(
      cliSecrets.text(`corral ${command}: ${problems.join("\n")}\n\n${USAGE[command]}`),
    );
    return 2;
  }
  let recipe: Recipe;
  const runSeed = seed ?? randomSeed();
  const control = { limit: values.limit, startAt: values["start-at"] };
  if (values.step && !Deno.stdin.isTerminal()) {
    console.error(`corral ${command}: --step asks on a terminal, and standard input is not one`);
    return 2;
  }
  try {
    recipe = await loadRecipe(userPath(positionals[0])!, { vars, secretVars, maxVms });
    planRecipe(recipe, runSeed, control);
  } catch (error) {
    if (error instanceof RecipeError) {
      console.error(cliSecrets.text(error.message));
      console.error(`${error.issues.length} problem(s); nothing was run.`);
      return 2;
    }
    throw error;
  }
  if (command === "run" && values.keep && recipe.inventory.some((vm) => vm.spec?.host)) {
    console.error(
      "corral run: --keep cannot keep VMs on SSH hosts: they die with corral's connection " +
        "to their host (by design, so nothing outlives a lost corral there)",
    );
    return 2;
  }
  if (command === "check") return await check(recipe, values.live);
  if (command === "plan") {
    const redact = new Redactor(recipe.vars, recipe.secrets);
    console.log(redact.text(formatPlan(planRecipe(recipe, runSeed, control))));
    return 0;
  }
  return await run(recipe, {
    ...control,
    step: values.step,
    verbose: values.verbose,
    quiet: values.quiet,
    seed: runSeed,
    forks,
    deadline,
    report: userPath(values.report),
    force: values.force,
    keep: values.keep,
    json: values.json,
  });
}

/**
 * A path given on the command line, from the user's directory: under
 * `deno task` the process runs in the repository, and `INIT_CWD` is where
 * the user was.
 */
function userPath(path: string | undefined): string | undefined {
  if (path === undefined || path.startsWith("/")) return path;
  // Only a `deno task` of this repository runs here with INIT_CWD set; an installed corral
  // runs where the user is, and an INIT_CWD inherited from elsewhere means nothing to it.
  const base = Deno.env.get("INIT_CWD");
  return base && Deno.cwd() === REPOSITORY ? `${base}/${path}` : path;
}

const REPOSITORY = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The completion script for `shell`. */
function completions(kind: string | undefined): number {
  const commands = Object.keys(USAGE).join(" ");
  const options = Object.fromEntries(
    Object.entries(USAGE).map(([name, text]) => [
      name,
      [...new Set(text.match(/--[a-z-]+/g) ?? [])].join(" ") + " --help",
    ]),
  );
  if (kind === "bash") {
    console.log(
      `# bash completion for corral: corral completions bash > ~/.local/share/bash-completion/completions/corral
_corral() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub=\${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands} --version --help" -- "$cur")); return
  fi
  case "$sub" in
${Object.entries(options).map(([name, opts]) => `    ${name}) local opts="${opts}" ;;`).join("\n")}
    *) local opts="" ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [ "$sub" = shell ]; then COMPREPLY=($(compgen -W "$(corral ps --names 2>/dev/null)" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _corral corral`,
    );
    return 0;
  }
  if (kind === "zsh") {
    console.log(`#compdef corral
# zsh completion for corral: corral completions zsh > "\${fpath[1]}/_corral"
_corral() {
  if (( CURRENT == 2 )); then compadd -- ${commands} --version --help; return; fi
  case $words[2] in
${
      Object.entries(options).map(([name, opts]) => `    ${name}) compadd -- ${opts}; _files ;;`)
        .join("\n")
    }
  esac
}
compdef _corral corral`);
    return 0;
  }
  console.error(`corral completions: say bash or zsh\n\n${USAGE.completions}`);
  return 2;
}

/** `NAME=VALUE` pairs of a repeatable flag. */
function assignments(pairs: string[], flag: string, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([\w-]+)=(.*)$/s.exec(pair);
    if (match) out[match[1]!] = match[2]!;
    else problems.push(`${flag} ${pair.replace(/=.*/s, "=…")}: write ${flag} NAME=VALUE`);
  }
  return out;
}

function wholeNumber(
  text: string | undefined,
  flag: string,
  min: number,
  max: number,
  problems: string[],
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(
    max === Infinity
      ? `${flag} ${text}: a positive whole number`
      : `${flag} ${text}: a whole number from ${min} to ${max}`,
  );
  return undefined;
}

async function ps(json: boolean, names = false): Promise<number> {
  const vms = await listVms();
  if (names) {
    for (const vm of vms) if (vm.state !== "dead") console.log(vm.name);
    return 0;
  }
  if (json) {
    console.log(JSON.stringify(vms, null, 2));
    return 0;
  }
  if (vms.length === 0) {
    console.log("no VMs: corral left nothing in the runtime directory");
    return 0;
  }
  const rows = [["NAME", "PID", "AGE", "STATE", "QMP", "CONSOLE"]];
  for (const vm of vms) {
    rows.push([
      vm.name,
      vm.state === "dead" ? "-" : String(vm.pid ?? "-"),
      formatMs(vm.ageMs),
      vm.state === "owned" ? `owned by ${vm.owner}` : vm.state,
      vm.qmp,
      vm.console ?? "-",
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
  return 0;
}

async function serveReplay(positionals: string[], socket: string | undefined): Promise<number> {
  if (positionals.length !== 1) {
    console.error(
      `corral replay: expected one qmp.log, got ${positionals.length}\n\n${USAGE.replay}`,
    );
    return 2;
  }
  const dir = socket ? undefined : await Deno.makeTempDir({ prefix: "corral-replay-" });
  const path = socket ?? `${dir}/replay.sock`;
  let interrupted = false;
  try {
    await using peer = await replay(await Deno.readTextFile(positionals[0]!), path);
    // Ctrl-C or SIGTERM end the replay like a client leaving: the socket and directory go.
    const stop = () => {
      interrupted = true;
      peer[Symbol.asyncDispose]();
    };
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    for (const signal of signals) Deno.addSignalListener(signal, stop);
    console.log(`serving ${positionals[0]} on ${peer.address} (one client; Ctrl-C to stop)`);
    const outcome = await peer.done.catch((error) => {
      if (!interrupted) throw error;
    }).finally(() => {
      for (const signal of signals) Deno.removeSignalListener(signal, stop);
    });
    if (!outcome) return 130;
    console.log(
      `${outcome.matched} request(s) as recorded, ${outcome.mismatches.length} different` +
        `${outcome.complete ? ", the recording played to its end" : ""}`,
    );
    for (const mismatch of outcome.mismatches) console.log(`  ${mismatch}`);
    return outcome.mismatches.length === 0 ? 0 : 1;
  } catch (error) {
    if (!(error instanceof CorralError) && !(error instanceof Deno.errors.NotFound)) throw error;
    console.error(`corral replay: ${(error as Error).message}`);
    return 2;
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function gc(all: boolean): Promise<number> {
  const { stopped, removed } = await collectGarbage({ all });
  for (const vm of stopped) console.log(`stopped ${vm.name} (pid ${vm.pid}, ${vm.state})`);
  const networks = Deno.uid() === 0 ? await collectNetworks() : [];
  for (const name of networks) console.log(`removed the lab network namespace ${name}`);
  console.log(`${stopped.length} VM(s) stopped, ${removed.length} director(ies) removed`);
  return 0;
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
  const version = `QEMU ${vm.qemuVersion.major}.${vm.qemuVersion.minor}.${vm.qemuVersion.micro}`;
  const problems: string[] = [];
  for (const step of steps) {
    const action = step.action as Qmp;
    const hasTemplate = JSON.stringify(action.arguments ?? null).includes('"$template"');
    if (hasTemplate) continue;
    for (
      const problem of schema.check(
        action.execute,
        action.arguments as Record<string, unknown> | undefined,
      )
    ) {
      problems.push(`${step.pos.file}:${step.pos.line}:${step.pos.col}: ${problem} (${version})`);
    }
  }
  return problems;
}

function flatten(steps: readonly Step[]): Step[] {
  return steps.flatMap((step) =>
    isBlock(step.action)
      ? [step, ...flatten([...step.action.steps, ...step.action.rescue, ...step.action.always])]
      : [step]
  );
}

interface RunFlags {
  limit: string | undefined;
  startAt: string | undefined;
  step: boolean;
  verbose: boolean;
  quiet: boolean;
  seed: number;
  forks: number | undefined;
  deadline: number | undefined;
  report: string | undefined;
  force: boolean;
  keep: boolean;
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

const SIGNAL_EXIT: Partial<Record<Deno.Signal, number>> = { SIGINT: 130, SIGTERM: 143 };
/** Signals closer together than this are one keypress delivered twice (measured: 0.3 ms apart). */
const SAME_KEYPRESS_MS = 200;

async function run(recipe: Recipe, flags: RunFlags): Promise<number> {
  // Progress goes to stdout, or to stderr when stdout carries the JSON journal.
  const stream = flags.json ? Deno.stderr : Deno.stdout;
  const terminal = stream.isTerminal() && !Deno.env.get("NO_COLOR");
  const color = terminal;
  const print = (line: string) => (flags.json ? console.error(line) : console.log(line));
  const live = terminal && !flags.verbose && !flags.quiet
    ? new LiveProgress({
      write: (text) => stream.writeSync(new TextEncoder().encode(text)),
      color,
      columns: columns(stream),
    })
    : undefined;
  const write = (line: string) => {
    if (flags.quiet) return;
    if (!live) return print(line);
    if (shownLive(line)) live.line(line);
  };
  const controller = new AbortController();
  let interrupted: Deno.Signal | undefined;
  let firstAt = 0;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      // One Ctrl-C can arrive twice: from the terminal, and forwarded by `deno task`.
      if (interrupted !== undefined && performance.now() - firstAt < SAME_KEYPRESS_MS) return;
      if (interrupted === undefined) {
        interrupted = signal;
        firstAt = performance.now();
        write(
          `${signal}: stopping the steps, running finally and cleanup (${signal} again kills every QEMU now)`,
        );
        controller.abort(new CorralError(`interrupted by ${signal}`));
      } else {
        killAllLaunched();
        Deno.exit(SIGNAL_EXIT[signal]);
      }
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  handleExitSignals(false);
  try {
    const result = await runRecipe(recipe, {
      limit: flags.limit,
      startAt: flags.startAt,
      trace: flags.verbose ? (line) => console.error(line) : undefined,
      confirm: flags.step ? askStep : undefined,
      seed: flags.seed,
      forks: flags.forks,
      deadline: flags.deadline,
      keep: flags.keep,
      reportDir: flags.report,
      force: flags.force,
      signal: controller.signal,
      log: write,
      progress: live ? (event) => live.event(event) : undefined,
      color,
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
    if (flags.keep) {
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
    return interrupted ? SIGNAL_EXIT[interrupted]! : result.exitCode;
  } catch (error) {
    if (error instanceof ReportDirError) {
      console.error(`corral run: ${error.message}`);
      return 2;
    }
    throw error;
  } finally {
    live?.stop();
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    handleExitSignals(true);
  }
}

/** The terminal's width, or 100 when it is not one. */
function columns(stream: typeof Deno.stdout): number {
  try {
    return stream.isTerminal() ? Deno.consoleSize().columns : 100;
  } catch {
    return 100;
  }
}

/** `corral report DIR`: draw report.html again from the journal and the events. */
async function redraw(positionals: string[]): Promise<number> {
  if (positionals.length !== 1) {
    console.error(`corral report: name one report directory\n\n${USAGE.report}`);
    return 2;
  }
  const dir = userPath(positionals[0])!;
  // Written beside, then renamed over: never through a link planted at report.html.
  let temporary: string | undefined;
  let journal: RunJournal;
  try {
    journal = await readJournal(dir);
    const html = await renderReport(dir, journal);
    temporary = await Deno.makeTempFile({ dir, prefix: ".report-", suffix: ".html" });
    await Deno.writeTextFile(temporary, html);
    await Deno.rename(temporary, `${dir}/report.html`);
    temporary = undefined;
  } catch (error) {
    if (!(error instanceof CorralError) && !(error instanceof Deno.errors.PermissionDenied)) {
      throw error;
    }
    console.error(`corral report: ${(error as Error).message}`);
    return 2;
  } finally {
    if (temporary) await Deno.remove(temporary).catch(() => {});
  }
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  console.log(summary(journal, color, { width: columns(Deno.stdout) }));
  console.log(`report: ${dir}/report.html`);
  return 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // Exit explicitly: kept QEMUs (--keep) must not keep this process alive.
  Deno.exit(code);
}
