import { RecipeError } from "../../recipe/parse.ts";
import { type CollectOptions, collectSuite } from "../../recipe/suite/collect.ts";
import { defaultBudgetMiB, MemoryBudget } from "../../recipe/suite/admission.ts";
import { QuarantineError, readQuarantine } from "../../recipe/suite/quarantine.ts";
import {
  runSuite,
  type SuiteEvent,
  suitePassed,
  type SuiteResult,
} from "../../recipe/suite/run_suite.ts";
import { writeSuiteReport } from "../../recipe/suite/suite_report.ts";
import { userPath, wholeNumber } from "../_args.ts";
import { defineCommand, type FlagValues, text, texts } from "../command.ts";
import { Interrupts } from "../_interrupts.ts";
import { handleExitSignals } from "../../vm/exit_cleanup.ts";

const USAGE = `usage: corral test [PATH…] [options]

Run a suite: every recipe in the files and folders given (default: the
current folder; a folder's YAML files whose top has recipe:), several at
once, each admitted only while the memory its VMs declare fits the budget.

options:
  --jobs N           at most N recipes at once (default 2)
  --memory SIZE      the memory budget, like 6G or 4096M (default: 80 % of
                     what this machine has available)
  --tags T,!U        only recipes tagged T and not U (tags: [...] in a recipe)
  --shard I/N        only the I-th of N shares of the suite (the same on every
                     machine: for a CI system's matrix jobs)
  --reruns N         run a failure again up to N times (fail then pass: flaky)
  --quarantine FILE  known failures: a YAML list of { recipe, reason, until }
  --qemu PATH        run each recipe on this QEMU (repeatable: each on each)
  --matrix NAME=a,b  run each recipe that declares variable NAME once per value
                     (repeatable: every combination)
  --report DIR       a folder per recipe run, junit.xml and index.html in DIR
                     (new or empty)
  -h, --help         this help

Ctrl-C stops the recipes, each running its finally and cleanup; a second
Ctrl-C kills every QEMU at once.

exit codes: 0 every recipe passed (or was flaky, or failed under a quarantine
that holds), 1 some failed, 2 invalid input, 130 interrupted (SIGINT),
143 terminated (SIGTERM)`;

/** `corral test [PATH…]`: a suite of recipes in parallel, admitted by memory. */
export default defineCommand({
  name: "test",
  synopsis: "[PATH…] [options]",
  usage: USAGE,
  flags: {
    jobs: { type: "string" },
    memory: { type: "string" },
    tags: { type: "string" },
    shard: { type: "string" },
    reruns: { type: "string" },
    quarantine: { type: "string" },
    qemu: { type: "string", multiple: true, default: [] },
    matrix: { type: "string", multiple: true, default: [] },
    report: { type: "string" },
  },
  async run({ values, positionals }) {
    const problems: string[] = [];
    const jobs = wholeNumber(text(values, "jobs"), "--jobs", 1, 64, problems) ?? 2;
    const reruns = wholeNumber(text(values, "reruns"), "--reruns", 0, 10, problems) ?? 0;
    const budget = memoryFlag(text(values, "memory"), problems) ?? defaultBudgetMiB();
    const collect = collectFlags(values, problems);
    const report = userPath(text(values, "report"));
    if (report !== undefined && !await emptyOrNew(report)) {
      problems.push(`--report ${report}: not empty (give a new folder)`);
    }
    if (problems.length > 0) {
      console.error(`corral test: ${problems.join("\n")}\n\n${USAGE}`);
      return 2;
    }
    const paths = positionals.length ? positionals.map((p) => userPath(p)!) : ["."];
    let entries;
    let quarantine;
    try {
      entries = await collectSuite(paths, collect);
      const file = userPath(text(values, "quarantine"));
      quarantine = file === undefined ? [] : await readQuarantine(file);
    } catch (error) {
      if (
        !(error instanceof RecipeError || error instanceof QuarantineError ||
          error instanceof Deno.errors.NotFound)
      ) throw error;
      console.error(`corral test: ${(error as Error).message}`);
      console.error("nothing was run.");
      return 2;
    }
    if (entries.length === 0) {
      console.error("corral test: no recipe to run (a run that tests nothing is not a pass)");
      return 1;
    }
    console.log(
      `corral test: ${entries.length} recipe run(s), ${jobs} at once, memory budget ${budget} MiB`,
    );
    if (report) await Deno.mkdir(report, { recursive: true });
    const interrupts = new Interrupts(
      (line) => console.log(line),
      "stopping the recipes, each running its finally and cleanup",
    );
    handleExitSignals(false);
    try {
      const results = await runSuite(entries, {
        jobs,
        budget: new MemoryBudget(budget),
        reruns,
        reportDir: report,
        quarantine,
        signal: interrupts.signal,
        onEvent: (event) => console.log(eventLine(event)),
      });
      if (report) await writeSuiteReport(report, results);
      console.log(summaryLines(results).join("\n"));
      if (report) console.log(`report: ${report}/index.html (and junit.xml, a folder per run)`);
      return interrupts.exitCode ?? (suitePassed(results) ? 0 : 1);
    } finally {
      interrupts.remove();
      handleExitSignals(true);
    }
  },
});

function collectFlags(values: FlagValues, problems: string[]): CollectOptions {
  const options: CollectOptions = {};
  const tags = text(values, "tags");
  if (tags !== undefined) options.tags = tags.split(",").map((t) => t.trim()).filter(Boolean);
  const shard = text(values, "shard");
  if (shard !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(shard);
    const [index, count] = [Number(match?.[1]), Number(match?.[2])];
    if (!match || index < 1 || index > count) {
      problems.push(`--shard ${shard}: write I/N, 1 ≤ I ≤ N`);
    } else options.shard = { index, count };
  }
  const qemu = texts(values, "qemu");
  if (qemu.length) options.qemu = qemu.map((q) => userPath(q)!);
  const matrix: Record<string, string[]> = {};
  for (const axis of texts(values, "matrix")) {
    const match = /^([\w-]+)=(.+)$/.exec(axis);
    if (match) matrix[match[1]!] = match[2]!.split(",");
    else problems.push(`--matrix ${axis}: write --matrix NAME=a,b`);
  }
  if (Object.keys(matrix).length) options.matrix = matrix;
  return options;
}

/** `6G`, `4096M`, `4096` (MiB). */
function memoryFlag(given: string | undefined, problems: string[]): number | undefined {
  if (given === undefined) return undefined;
  const match = /^(\d+)([MG]?)$/i.exec(given);
  if (!match || Number(match[1]) === 0) {
    problems.push(`--memory ${given}: a size like 6G or 4096M`);
    return undefined;
  }
  return Number(match[1]) * (match[2]!.toUpperCase() === "G" ? 1024 : 1);
}

async function emptyOrNew(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return false;
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

function eventLine(event: SuiteEvent): string {
  const held = `${event.type === "end" ? "" : `${event.heldMiB}/${event.budgetMiB} MiB held`}`;
  if (event.type === "wait") return `waits  ${event.id}: needs ${event.memoryMiB} MiB, ${held}`;
  if (event.type === "start") {
    const again = event.attempt > 1 ? ` (rerun ${event.attempt - 1})` : "";
    return `start  ${event.id}${again}: ${event.memoryMiB} MiB, ${held}`;
  }
  const why = event.reason ? `: ${event.reason}` : "";
  return `${event.verdict.padEnd(6)} ${event.id} in ${
    (event.durationMs / 1000).toFixed(1)
  } s${why}`;
}

function summaryLines(results: readonly SuiteResult[]): string[] {
  const lines = [""];
  for (const r of results.filter((r) => r.outcome === "flaky")) {
    lines.push(`flaky: ${r.entry.id} (failed, then passed on attempt ${r.attempts.length})`);
  }
  for (const r of results.filter((r) => r.outcome === "fail")) {
    const q = r.quarantine;
    lines.push(
      q?.holds
        ? `quarantined: ${r.entry.id} failed, excused until ${q.until}: ${q.reason}`
        : `failed: ${r.entry.id}: ${r.attempts.at(-1)!.reason ?? ""}${
          q ? ` (its quarantine ended ${q.until})` : ""
        }`,
    );
  }
  const count = (o: string) => results.filter((r) => r.outcome === o).length;
  const excused = results.filter((r) => r.outcome === "fail" && r.quarantine?.holds).length;
  lines.push(
    `${count("pass")} passed, ${count("flaky")} flaky, ${count("fail") - excused} failed, ` +
      `${excused} quarantined`,
  );
  return lines;
}
