/**
 * Running a recipe: bring the inventory up as a `Lab`, run the steps in
 * lockstep (at most `forks` VMs at once, each within its deadline), keep
 * failed VMs out of later steps, always run `finally`, measure the metrics,
 * give a verdict, and stop what corral launched. VMs are driven only
 * through the public `Vm`/`Lab` API; each action is a file under
 * `actions/`.
 *
 * @module
 */

import { printable } from "../_text.ts";
import { judge } from "./verdict.ts";
import { CorralError, DeadlineError, LaunchError, TimeoutError } from "../errors.ts";
import { subsetMatch } from "../qmp/match.ts";
import { Fleet, type VmResult } from "../vm/fleet.ts";
import { Lab, LabLaunchError } from "../vm/lab.ts";
import { LabNetworks } from "../vm/network.ts";
import type { DetachedVm, Vm } from "../vm/vm.ts";
import { after, delay } from "../_async.ts";
import { showDuration } from "./duration.ts";
import type { Condition, Metric, Recipe, Step, Template } from "./model.ts";
import type { ActionKind, Marks } from "./actions/action.ts";
import { isBlock } from "./actions/block.ts";
import { actionKind } from "./actions/registry.ts";
import { type Plan, type PlannedStep, planRecipe, randomSeed } from "./plan.ts";
import {
  EXIT_CODES,
  type MetricRecord,
  type RunJournal,
  type StepRecord,
  type TargetRecord,
  type Verdict,
} from "./journal.ts";
import { RunClock } from "./report.ts";
import { ReportDir } from "./report_dir.ts";
import { UndoScope } from "./_undo.ts";
import type { ReporterKind } from "./reporters/reporter.ts";
import { Redactor } from "./secrets.ts";

/** Options of {@linkcode runRecipe}. */
export interface RunOptions {
  /** The seed for picks. Default: a random one (printed, and kept in the journal). */
  seed?: number | undefined;
  /** Override the recipe's `defaults.forks`. */
  forks?: number | undefined;
  /** Leave the VMs corral launched running at the end (they outlive this program). Default `false`. */
  keep?: boolean | undefined;
  /** Write the report (events.jsonl, journal.json, junit.xml, per-VM logs) here. */
  reportDir?: string | undefined;
  /** The report's outputs (see `reporters/registry.ts`). Default: every registered one. */
  reporters?: readonly ReporterKind[] | undefined;
  /** Empty `reportDir` first when it is not empty (else the run is refused). */
  force?: boolean | undefined;
  /** A deadline for the whole run (not `finally`), in ms. */
  deadline?: number | undefined;
  /** Aborting it (Ctrl-C) stops the steps; `finally` still runs. */
  signal?: AbortSignal | undefined;
  /** Progress, line by line, for a terminal or a log (secrets masked). */
  log?: ((line: string) => void) | undefined;
  /**
   * Progress as it happens, for a live display: a step starts on its
   * targets, a VM finishes it, the step ends (secrets masked in errors).
   */
  progress?: ((event: ProgressEvent) => void) | undefined;
  /** Color the progress lines. Default `false`. */
  color?: boolean | undefined;
  /** Only these VMs (a selector): the others are not brought up (`--limit`). */
  limit?: string | undefined;
  /** Skip the steps before this one (`--start-at`); finally still runs. */
  startAt?: string | undefined;
  /** Every QMP message of the run as it goes, secrets masked (`-v`). */
  trace?: ((line: string) => void) | undefined;
  /**
   * Asked before each step (`--step`): run it, skip it, or run it and all
   * the rest without asking.
   */
  confirm?: ((step: PlannedStep) => Promise<"run" | "skip" | "all">) | undefined;
}

/** What {@linkcode RunOptions.progress} is told. */
export type ProgressEvent =
  | { type: "step-start"; step: string; targets: string[] }
  | {
    type: "vm-done";
    step: string;
    vm: string;
    status: TargetRecord["status"];
    ms: number;
    error?: string;
  }
  | { type: "step-end"; step: string };

/** What a run produced. */
export interface RunResult {
  /** Everything that happened, the verdict included (secrets masked). */
  journal: RunJournal;
  /** The command line's exit code for the verdict. */
  exitCode: number;
  /** With `keep`: the launched VMs still running at the end, with their sockets. */
  kept: DetachedVm[];
}

/**
 * Run a validated recipe.
 *
 * @throws {RecipeError} The plan found a problem (as `check` would).
 * @throws {ReportDirError} `reportDir` is not empty and `force` was not given.
 *
 * @example Check, plan and run a tiny recipe
 * ```ts
 * import { parseRecipe, runRecipe } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const recipe = parseRecipe(
 *   [
 *     "recipe: 1",
 *     "name: hello",
 *     "vms: { a: {} }",
 *     "steps:",
 *     "  - { name: booted, console: { wait: READY } }",
 *     "  - { name: paused, pause: {} }",
 *   ].join("\n"),
 *   "hello.yaml",
 * );
 * const { journal } = await runRecipe(recipe, { seed: 1 });
 * assert.equal(journal.verdict, "pass");
 * ```
 */
export async function runRecipe(recipe: Recipe, options: RunOptions = {}): Promise<RunResult> {
  const plan = planRecipe(recipe, options.seed ?? randomSeed(), {
    limit: options.limit,
    startAt: options.startAt,
  });
  const redact = new Redactor(recipe.vars, recipe.secrets);
  const clock = new RunClock();
  const report = options.reportDir
    ? await ReportDir.open(options.reportDir, {
      redact,
      clock,
      force: options.force,
      reporters: options.reporters,
    })
    : undefined;
  const runner = new Runner(plan, options, redact, report, clock);
  let outcome: Omit<RunResult, "kept">;
  let kept: DetachedVm[];
  try {
    outcome = await runner.run();
  } finally {
    // Cleanup (and, with keep, detaching) happens whether the run ended or threw.
    kept = await runner.release();
  }
  return { ...outcome, kept };
}

/** Per VM: where the previous and the current step began. */
interface VmMarks {
  previous: Marks;
  current: Marks;
}

class Runner {
  #plan: Plan;
  #recipe: Recipe;
  #options: RunOptions;
  #redact: Redactor;
  #report: ReportDir | undefined;
  #clock: RunClock;
  #lab: Lab | undefined;
  #networks: LabNetworks | undefined;
  #failed = new Set<string>();
  /** VMs that were never brought up: no step acts on them. */
  #absent = new Set<string>();
  #records: StepRecord[] = [];
  #outcomes = new Map<string, Map<string, TargetRecord["status"]>>();
  #times = new Map<string, Map<string, { start: number; end: number }>>();
  #outputs = new Map<string, Map<string, unknown>>();
  #marks = new Map<string, VmMarks>();
  #mutated = false;
  #acted = false;
  #baselineFailed = false;
  #verdict: { verdict: Verdict; reason: string } | undefined;
  #abort = new AbortController();
  #forks: number;
  #watchers: Promise<void>[] = [];
  #watchStop = new AbortController();
  #logged = new Map<string, number>();
  /** " (batch 2/3)" while a serial block runs its batches. */
  #batchLabel = "";
  /** What actions with an `undo` owe: the run's steps, then each block batch in it. */
  #undos: UndoScope[] = [new UndoScope()];

  constructor(
    plan: Plan,
    options: RunOptions,
    redact: Redactor,
    report: ReportDir | undefined,
    clock: RunClock,
  ) {
    this.#plan = plan;
    this.#recipe = plan.recipe;
    this.#options = options;
    this.#redact = redact;
    this.#report = report;
    this.#clock = clock;
    this.#forks = options.forks ?? plan.recipe.forks;
  }

  async run(): Promise<Omit<RunResult, "kept">> {
    const { signal, deadline } = this.#options;
    const onAbort = () => this.#abort.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const cancelDeadline = deadline === undefined ? undefined : after(
      deadline,
      () =>
        this.#abort.abort(
          new TimeoutError(`the run passed its deadline of ${showDuration(deadline)}`, {
            timeout: deadline,
          }),
        ),
    );
    this.#log(
      `recipe ${this.#recipe.name}: seed ${this.#plan.seed}, ${this.#recipe.inventory.length} VM(s), forks ${this.#forks}`,
    );
    if (this.#redact.short > 0) {
      this.#log(
        `note: ${this.#redact.short} secret value(s) are shorter than 3 characters: masking them masks ordinary text too`,
      );
    }
    this.#report?.event({
      type: "run-start",
      recipe: this.#recipe.name,
      seed: this.#plan.seed,
    });
    try {
      if (await this.#bringUp()) {
        for (const planned of this.#plan.steps) {
          if (this.#abort.signal.aborted) break;
          await this.#runStep(planned, undefined);
        }
      }
    } catch (error) {
      this.#setError(`corral failed: ${(error as Error).message}`);
    } finally {
      cancelDeadline?.();
      signal?.removeEventListener("abort", onAbort);
    }
    // A fault corral injected is healed before finally, however the steps ended.
    await this.#heal(this.#undos[0]!);
    if (this.#abort.signal.aborted && !this.#verdict) {
      const reason = this.#abort.signal.reason;
      this.#verdict = reason instanceof TimeoutError
        ? { verdict: "fail", reason: reason.message }
        : { verdict: "error", reason: "interrupted: cleanup ran, the verdict is unknown" };
    }
    // finally always runs, on every VM, with a fresh signal.
    this.#abort = new AbortController();
    const failedBefore = new Set(this.#failed);
    this.#failed.clear();
    // Nothing to clean up on when the lab could not be brought up (what started was stopped).
    const finale = this.#lab ? this.#plan.finally : [];
    for (const planned of finale) await this.#runStep(planned, undefined, true);
    await this.#heal(this.#undos[0]!); // what finally itself started
    for (const name of failedBefore) this.#failed.add(name);
    const journal = this.#journal();
    this.#log(`verdict ${journal.verdict}: ${journal.reason}`);
    return { journal, exitCode: EXIT_CODES[journal.verdict] };
  }

  /**
   * Stop what corral launched (or, with keep, leave it running and say
   * where), close the rest, finish the report.
   */
  async release(): Promise<DetachedVm[]> {
    const lab = this.#lab;
    // The console logs live in the VMs' directories, which disposing removes: copy them first.
    if (this.#report && lab) {
      for (const name of lab.names) {
        await lab.vm(name).collectLogs();
        const logs = lab.vm(name).consoleLogs;
        if (logs.length > 0) await this.#report.console(name, logs);
      }
    }
    let kept: DetachedVm[] = [];
    if (lab && this.#options.keep) kept = await lab.detach();
    else {
      await lab?.shutdown({ grace: 0 });
      // Kept VMs keep their network; corral gc removes it once they are gone.
      await this.#networks?.destroy();
    }
    this.#watchStop.abort();
    await Promise.allSettled(this.#watchers);
    await this.#report?.finish(this.#journal());
    return kept;
  }

  // ---- bring-up ------------------------------------------------------------

  async #bringUp(): Promise<boolean> {
    const report = this.#report;
    const inventory = this.#recipe.inventory.filter((vm) => this.#plan.vms.includes(vm.name));
    const live = this.#options.trace;
    const trace = report || live
      ? (direction: "->" | "<-", message: string, vm: string) => {
        report?.qmp(vm, `${direction} ${message}`);
        live?.(this.#redact.text(`${vm} ${direction} ${message}`));
      }
      : undefined;
    try {
      const networks = this.#recipe.networks
        .map((n) => ({ ...n, members: n.members.filter((m) => this.#plan.vms.includes(m.vm)) }))
        .filter((n) => n.members.length > 0);
      if (networks.length > 0) this.#networks = await LabNetworks.create(networks);
      this.#lab = await Lab.launch(
        inventory.map((vm) => ({
          ...vm.spec!,
          nics: this.#networks?.nicsOf(vm.name),
          name: vm.name,
          groups: vm.groups,
          attach: vm.attach,
          agentAddress: vm.agent,
        })),
        {
          concurrency: Math.min(this.#forks, 8),
          signal: this.#abort.signal,
          keep: this.#options.keep,
          trace,
          hosts: this.#recipe.hosts,
          // Across hosts, one that cannot be reached fails only its VMs; the others go on.
          partial: this.#recipe.hosts.length > 0,
        },
      );
    } catch (error) {
      if (error instanceof LaunchError) {
        this.#setError(`the lab networks could not be made: ${error.message}`);
        return false;
      }
      if (!(error instanceof LabLaunchError)) throw error;
      for (const result of error.results) {
        const how = inventory.find((vm) => vm.name === result.vm)?.attach ? "attached" : "launched";
        if (result.status !== "ok") {
          this.#log(`  ${result.vm}: could not be ${how}: ${result.error.message}`);
        }
      }
      const first = error.results.find((result) => result.status !== "ok")!;
      const what = "error" in first ? first.error.message : "";
      this.#setError(
        `${error.results.filter((r) => r.status !== "ok").length} VM(s) could not be brought up; ` +
          `${first.vm}: ${what.split("\n")[0]}`,
      );
      return false;
    }
    this.#recordAbsent(inventory.map((vm) => vm.name));
    for (const entry of inventory) {
      if (this.#absent.has(entry.name)) continue;
      const vm = this.#lab.vm(entry.name);
      this.#marks.set(vm.name, {
        previous: { events: 0, console: 0 },
        current: { events: 0, console: 0 },
      });
      this.#watch(vm);
      this.#log(`  ${vm.name}: ${entry.attach ? "attached" : `launched (pid ${vm.pid})`}`);
    }
    return true;
  }

  /**
   * VMs that could not be brought up (their host was unreachable) take no
   * step, not even `finally`; a "bring up" record says why, and the verdict is `error`.
   */
  #recordAbsent(names: string[]): void {
    const failures = this.#lab?.failures ?? [];
    if (failures.length === 0) return;
    const ms = this.#clock.ms();
    const when = {
      startedAt: this.#clock.iso(0),
      endedAt: this.#clock.iso(ms),
      startMs: 0,
      endMs: ms,
    };
    const record: StepRecord = {
      name: "bring up",
      path: "vms",
      action: "launch",
      targets: [],
      ...when,
    };
    for (const name of names) {
      const failure = failures.find((f) => f.vm === name);
      if (failure) {
        this.#absent.add(name);
        this.#log(`  ${name}: could not be brought up: ${failure.error.message}`);
        record.targets.push({ vm: name, status: "error", error: failure.error.message, ...when });
      } else record.targets.push({ vm: name, status: "ok", ...when });
    }
    this.#records.push(record);
  }

  /** Record every QMP event of `vm` in events.jsonl, from where the last watch stopped. */
  #watch(vm: Vm): void {
    const report = this.#report;
    if (!report) return;
    this.#watchers.push((async () => {
      try {
        const since = this.#logged.get(vm.name) ?? 0;
        for await (const event of vm.events(undefined, { since, signal: this.#watchStop.signal })) {
          this.#logged.set(vm.name, event.seq);
          const { seconds, microseconds } = event.timestamp;
          report.event({
            ms: this.#clock.offset(seconds * 1000 + microseconds / 1000),
            type: "qmp-event",
            vm: vm.name,
            event: event.event,
            data: event.data,
            timestamp: event.timestamp,
          });
        }
      } catch {
        // The VM went away or the run ended: what came is recorded.
      }
    })());
  }

  // ---- steps ---------------------------------------------------------------

  async #runStep(
    planned: PlannedStep,
    only: string[] | undefined,
    cleanup = false,
  ): Promise<string[]> {
    const { step } = planned;
    const base = (only ? planned.targets.filter((name) => only.includes(name)) : planned.targets)
      .filter((name) => !this.#absent.has(name));
    const eligible = cleanup ? base : base.filter((name) => !this.#failed.has(name));
    const startMs = this.#clock.ms();
    const record: StepRecord = {
      name: step.name + this.#batchLabel,
      path: planned.path,
      action: step.action.kind,
      targets: [],
      startedAt: this.#clock.iso(startMs),
      endedAt: "",
      startMs,
      endMs: 0,
    };
    if (step.id) record.id = step.id;
    const skipped = base.filter((name) => !eligible.includes(name));
    const why = planned.skip ?? (cleanup ? undefined : await this.#confirmed(planned));
    if (why) skipped.push(...eligible.splice(0));
    const conditional = eligible.filter((name) => !step.if || this.#holds(step.if, name));
    const skippedByIf = eligible.filter((name) => !conditional.includes(name));
    this.#log(
      `▶ ${step.name}${
        why
          ? ` (skipped: ${why})`
          : conditional.length
          ? ` on ${conditional.join(", ")}`
          : " (no VM)"
      }`,
    );
    this.#report?.event({
      type: "step-start",
      step: step.name,
      path: planned.path,
      targets: conditional,
      ms: startMs,
    });
    if (!isBlock(step.action)) {
      this.#options.progress?.({ type: "step-start", step: record.name, targets: conditional });
    }

    const failures: string[] = [];
    if (isBlock(step.action)) {
      failures.push(...await this.#runBlock(planned, conditional, record, cleanup));
    } else {
      const results = await this.#runTargets(step, planned.path, conditional, cleanup);
      for (const result of results) {
        record.targets.push(result);
        if (result.status !== "ok") failures.push(result.vm);
      }
      this.#applyFailures(step, record, failures, conditional.length);
      if (!cleanup && conditional.length > 0) this.#acted = true;
    }
    for (const name of [...skipped, ...skippedByIf]) {
      record.targets.push({ vm: name, status: "skipped" });
    }
    record.targets.sort((a, b) => this.#order(a.vm) - this.#order(b.vm));
    record.endMs = this.#clock.ms();
    record.endedAt = this.#clock.iso(record.endMs);
    this.#records.push(record);
    for (const target of record.targets) this.#outcome(step.id, target);
    this.#report?.event({
      type: "step-end",
      step: step.name,
      path: planned.path,
      ms: record.endMs,
      targets: record.targets,
    });
    if (!isBlock(step.action)) this.#options.progress?.({ type: "step-end", step: record.name });
    // A mutating step that ran may have changed a VM, even where it failed or timed out.
    if (step.mutates && record.targets.some((t) => t.status !== "skipped")) this.#mutated = true;
    return failures;
  }

  #confirmAll = false;

  /** `--step`: why the step is skipped, or undefined to run it. */
  async #confirmed(planned: PlannedStep): Promise<string | undefined> {
    if (!this.#options.confirm || this.#confirmAll) return undefined;
    const answer = await this.#options.confirm(planned);
    if (answer === "all") this.#confirmAll = true;
    return answer === "skip" ? "by --step" : undefined;
  }

  /** Mark failures as allowed or not, and keep failed VMs out of later steps. */
  #applyFailures(step: Step, record: StepRecord, failures: string[], total: number): void {
    if (failures.length === 0) return;
    const tolerated = step.continueOnError || failures.length <= allowedFailures(step, total);
    for (const target of record.targets) {
      if (target.status === "ok" || !failures.includes(target.vm)) continue;
      if (tolerated) target.allowed = true;
      if (!step.continueOnError) this.#failed.add(target.vm);
    }
    // A failure before anything changed a VM says the baseline was unhealthy, unless this very
    // step was the change (a mutating step that failed or timed out).
    if (!tolerated && !this.#mutated && !step.mutates) this.#baselineFailed = true;
  }

  async #runBlock(
    planned: PlannedStep,
    targets: string[],
    record: StepRecord,
    cleanup: boolean,
  ): Promise<string[]> {
    const { step } = planned;
    const block = planned.block!;
    const batches = planned.batches
      ? planned.batches.map((batch) => batch.filter((name) => targets.includes(name)))
      : [targets];
    const failures: string[] = [];
    for (const [index, batch] of batches.entries()) {
      if (batch.length === 0) continue;
      const outerLabel = this.#batchLabel;
      if (batches.length > 1) {
        this.#log(`  batch ${index + 1}/${batches.length}: ${batch.join(", ")}`);
        this.#batchLabel = ` (batch ${index + 1}/${batches.length})`;
      }
      const before = new Set(this.#failed);
      const firstChild = this.#records.length;
      const scope = new UndoScope();
      this.#undos.push(scope);
      let failedHere: string[] = [];
      try {
        for (const child of block.steps) {
          if (this.#abort.signal.aborted && !cleanup) break;
          await this.#runStep(child, batch, cleanup);
        }
        failedHere = batch.filter((name) => this.#failed.has(name) && !before.has(name));
        if (failedHere.length > 0 && block.rescue.length > 0) {
          for (const name of failedHere) this.#failed.delete(name);
          for (const child of block.rescue) await this.#runStep(child, failedHere, cleanup);
        }
      } finally {
        this.#undos.pop();
        await this.#heal(scope); // the block's faults end with it, before always
      }
      const rescued = failedHere.filter((name) => !this.#failed.has(name));
      for (const child of block.always) await this.#runStep(child, batch, true);
      this.#batchLabel = outerLabel;
      const stillFailed = batch.filter((name) => this.#failed.has(name) && !before.has(name));
      for (const name of batch) {
        record.targets.push(
          stillFailed.includes(name)
            ? { vm: name, status: "failed", error: "a step of the block failed" }
            : { vm: name, status: "ok" },
        );
      }
      failures.push(...stillFailed);
      const allowed = allowedFailures(step, batch.length);
      const tolerated = step.continueOnError || stillFailed.length <= allowed;
      // What the block tolerates (rescued VMs, failures within max-failures or continue-on-error)
      // does not fail the run: its children's failures on those VMs are allowed too.
      const forgiven = new Set([...rescued, ...(tolerated ? stillFailed : [])]);
      this.#allow(this.#records.slice(firstChild), forgiven);
      this.#allow([record], new Set(tolerated ? stillFailed : []));
      if (!tolerated) {
        const rest = batches.slice(index + 1).flat();
        if (rest.length > 0) {
          this.#log(
            `  ${stillFailed.length} failure(s) in batch ${
              index + 1
            } exceed max-failures ${allowed}: the remaining batches are skipped`,
          );
        }
        for (const name of rest) record.targets.push({ vm: name, status: "skipped" });
        break;
      }
    }
    return failures;
  }

  /** Undo what a scope's faults did; each undo is a step of the journal. */
  async #heal(scope: UndoScope): Promise<void> {
    if (!scope.pending) return;
    const records = await scope.heal(this.#clock, (step) => step.timeout ?? this.#recipe.timeout);
    for (const record of records) {
      const { name, path, startMs, endMs, targets } = record;
      this.#report?.event({ type: "step-start", step: name, path, targets: [], ms: startMs });
      this.#report?.event({ type: "step-end", step: name, path, ms: endMs, targets });
      this.#log(`↺ ${record.name}`);
      for (const target of record.targets) {
        this.#log(
          target.status === "ok" ? `  ✓ ${target.vm}` : `  ✗ ${target.vm}: ${target.error}`,
        );
      }
      this.#records.push(record);
    }
  }

  #allow(records: StepRecord[], vms: Set<string>): void {
    if (vms.size === 0) return;
    for (const record of records) {
      for (const target of record.targets) {
        if (target.status !== "ok" && target.status !== "skipped" && vms.has(target.vm)) {
          target.allowed = true;
        }
      }
    }
  }

  async #runTargets(
    step: Step,
    path: string,
    targets: string[],
    cleanup: boolean,
  ): Promise<TargetRecord[]> {
    const timeout = step.timeout ?? this.#recipe.timeout;
    const kind = actionKind(step.action.kind)!;
    const signal = cleanup ? new AbortController().signal : this.#abort.signal;
    const vms = targets.map((name) => this.#lab!.vm(name));
    for (const vm of vms) this.#stepStarted(vm);
    const times = new Map<string, { start: number; end?: number }>();
    const results = await new Fleet(vms).run(async (vm, stepSignal) => {
      const start = this.#clock.ms();
      const time: { start: number; end?: number } = { start };
      times.set(vm.name, time);
      const owed = kind.undo ? this.#undos.at(-1)!.owe(step, path, kind, vm) : undefined;
      const attempts = step.retry?.attempts ?? 1;
      let last: unknown;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const left = Math.max(1, timeout - (this.#clock.ms() - start));
          const output = await this.#act(vm, kind, step, stepSignal, left);
          if (owed) owed.output = output;
          if (step.retry?.until !== undefined && !subsetMatch(output, step.retry.until)) {
            throw new CorralError(
              `${JSON.stringify(output)} does not match until ${JSON.stringify(step.retry.until)}`,
              { vm: vm.name },
            );
          }
          time.end = this.#clock.ms();
          this.#log(
            `  ✓ ${vm.name} ${showDuration(time.end - start)}${
              attempt > 1 ? ` (attempt ${attempt})` : ""
            }${noteOf(output)}`,
          );
          this.#options.progress?.({
            type: "vm-done",
            step: step.name + this.#batchLabel,
            vm: vm.name,
            status: "ok",
            ms: time.end - start,
          });
          return { output, attempts: attempt };
        } catch (error) {
          last = error;
          if (attempt === attempts || stepSignal.aborted) break;
          await delay(step.retry!.interval, { signal: stepSignal }).catch(() => {});
        }
      }
      time.end = this.#clock.ms();
      throw last;
    }, { concurrency: this.#forks, timeout: timeout + STEP_GUARD_MS, signal, settle: SETTLE_MS });
    return await Promise.all(
      results.results.map((result) => this.#targetRecord(step, kind, timeout, result, times)),
    );
  }

  /** One VM's record of a step: when, how it ended, its output or what went wrong. */
  async #targetRecord(
    step: Step,
    kind: ActionKind,
    timeout: number,
    result: VmResult<{ output: unknown; attempts: number }>,
    times: Map<string, { start: number; end?: number }>,
  ): Promise<TargetRecord> {
    const time = times.get(result.vm);
    const start = time?.start ?? this.#clock.ms();
    const end = time?.end ?? this.#clock.ms();
    const when = {
      startedAt: this.#clock.iso(start),
      endedAt: this.#clock.iso(end),
      startMs: start,
      endMs: end,
    };
    if (result.status === "ok") {
      const record: TargetRecord = {
        vm: result.vm,
        status: "ok",
        ...when,
        attempts: result.value.attempts,
      };
      if (result.value.output !== undefined) record.output = result.value.output;
      return record;
    }
    const timedOut = result.error instanceof TimeoutError;
    const dropped = await this.#hostNote(result.vm);
    // A host that dropped is the environment breaking, not the fault under test.
    const status = dropped || result.error instanceof LaunchError
      ? "error"
      : timedOut
      ? "timeout"
      : "failed";
    const message = dropped +
      (timedOut
        ? this.#timeoutMessage(step, kind, timeout, result.error as TimeoutError)
        : result.error.message);
    this.#log(`  ✗ ${result.vm}: ${message}`);
    this.#options.progress?.({
      type: "vm-done",
      step: step.name + this.#batchLabel,
      vm: result.vm,
      status,
      ms: end - start,
      error: printable(this.#redact.text(message)),
    });
    return { vm: result.vm, status, ...when, error: message } as TargetRecord;
  }

  /** Say what timed out: the action's own deadline, or the step's (and what the action saw). */
  #timeoutMessage(step: Step, kind: ActionKind, timeout: number, error: TimeoutError): string {
    const vm = error.vm ?? "";
    const own = kind.ownTimeout?.(step.action);
    if (own !== undefined && own < timeout && !(error instanceof DeadlineError)) {
      return `${kind.key} timed out after ${showDuration(own)} (its own timeout; the step allows ` +
        `${showDuration(timeout)}) on ${vm}: ${error.detail}`;
    }
    const detail = error instanceof DeadlineError
      ? lastLine(this.#lab!.vm(vm))
      : `: ${error.detail}`;
    return `step '${step.name}' timed out after ${showDuration(timeout)} on ${vm}${detail}`;
  }

  /** `host 'h1' dropped: ` for a VM whose SSH host no longer answers. */
  async #hostNote(name: string): Promise<string> {
    const host = this.#lab?.vm(name).host;
    return host && !await this.#lab!.hostUp(host)
      ? `host '${host}' dropped (its SSH connection is down: check the host and its sshd): `
      : "";
  }

  #stepStarted(vm: Vm): void {
    const marks = this.#marks.get(vm.name)!;
    marks.previous = marks.current;
    marks.current = { events: vm.mark(), console: consoleCursor(vm) };
  }

  /** Do one action on one VM; resolves to its output. */
  #act(
    vm: Vm,
    kind: ActionKind,
    step: Step,
    signal: AbortSignal,
    timeout: number,
  ): Promise<unknown> {
    const since = this.#marks.get(vm.name)!.previous;
    const seed = this.#plan.seed;
    this.#report?.qmp(vm.name, `-- step '${step.name}' (${step.action.kind})`);
    return kind.run(step.action, {
      vm,
      signal,
      timeout,
      since,
      render: (template) => renderTemplate(template, vm.name, seed),
      renderValue: (value) => render(value, vm.name, seed),
      restarted: () => {
        this.#marks.set(vm.name, { previous: since, current: { events: vm.mark(), console: 0 } });
        this.#watch(vm);
      },
      replaced: () => {
        // Events keep their numbers (one journal); the new console counts from its first line.
        const marks = this.#marks.get(vm.name)!;
        marks.current = { ...marks.current, console: 0 };
      },
    });
  }

  // ---- conditions, outcomes, verdict ----------------------------------------

  #holds(condition: Condition, vm: string): boolean {
    if ("var" in condition) {
      const value = this.#recipe.vars[condition.var];
      if ("equals" in condition && condition.equals !== undefined) {
        return value === condition.equals;
      }
      if ("notEquals" in condition && condition.notEquals !== undefined) {
        return value !== condition.notEquals;
      }
      return Boolean(value);
    }
    if ("step" in condition) {
      const outcome = this.#outcomes.get(condition.step)?.get(vm) ?? "skipped";
      const simple = outcome === "ok" ? "ok" : outcome === "skipped" ? "skipped" : "failed";
      return simple === condition.outcome;
    }
    if ("failed" in condition) return (this.#failed.size > 0) === condition.failed;
    if ("all" in condition) return condition.all.every((c) => this.#holds(c, vm));
    if ("any" in condition) return condition.any.some((c) => this.#holds(c, vm));
    return !this.#holds(condition.not, vm);
  }

  #outcome(id: string | undefined, target: TargetRecord): void {
    if (!id) return;
    if (!this.#outcomes.has(id)) this.#outcomes.set(id, new Map());
    this.#outcomes.get(id)!.set(target.vm, target.status);
    if (target.status === "ok" && target.output !== undefined) {
      if (!this.#outputs.has(id)) this.#outputs.set(id, new Map());
      this.#outputs.get(id)!.set(target.vm, target.output);
    }
    if (target.startMs !== undefined && target.endMs !== undefined) {
      if (!this.#times.has(id)) this.#times.set(id, new Map());
      this.#times.get(id)!.set(target.vm, { start: target.startMs, end: target.endMs });
    }
  }

  #metrics(): MetricRecord[] {
    return this.#recipe.metrics.map((metric) => {
      const values = this.#measure(metric);
      const record: MetricRecord = { name: metric.name, values };
      const spans = this.#spans(metric);
      if (spans) record.spans = spans;
      if (metric.max !== undefined) {
        record.max = metric.max;
        if (Object.keys(values).length > 0) {
          record.pass = Object.values(values).every((v) => v <= metric.max!);
        }
      }
      return record;
    });
  }

  /** The window a duration metric measured on each VM, for reports. */
  #spans(metric: Metric): Record<string, [number, number]> | undefined {
    if (metric.value) return undefined;
    const spans: Record<string, [number, number]> = {};
    const to = this.#times.get(metric.to.step);
    for (const [vm, a] of this.#times.get(metric.from.step) ?? []) {
      const b = to?.get(vm);
      if (b) spans[vm] = [a[metric.from.edge], b[metric.to.edge]];
    }
    return spans;
  }

  /** A metric's value on each VM where it could be measured, in ms. */
  #measure(metric: Metric): Record<string, number> {
    const values: Record<string, number> = {};
    const round = (ms: number) => Math.round(ms * 10) / 10;
    if (metric.value) {
      const { step, field } = metric.value;
      for (const [vm, output] of this.#outputs.get(step) ?? []) {
        const value = (output as Record<string, unknown> | undefined)?.[field];
        if (typeof value === "number" && Number.isFinite(value)) values[vm] = round(value);
      }
      return values;
    }
    const to = this.#times.get(metric.to.step);
    for (const [vm, a] of this.#times.get(metric.from.step) ?? []) {
      const b = to?.get(vm);
      if (b) values[vm] = round(b[metric.to.edge] - a[metric.from.edge]);
    }
    return values;
  }

  /** The journal, secrets masked. */
  #journal(): RunJournal {
    const metrics = this.#metrics();
    const { verdict, reason } = this.#verdict ?? this.#judge(metrics);
    return this.#redact.value({
      recipe: this.#recipe.name,
      file: this.#recipe.file,
      seed: this.#plan.seed,
      startedAt: this.#clock.iso(0),
      durationMs: Math.round(this.#clock.ms()),
      verdict,
      reason,
      steps: this.#records,
      metrics,
      vms: this.#recipe.inventory.filter((vm) => this.#plan.vms.includes(vm.name))
        .map((vm) => ({ name: vm.name, groups: [...vm.groups] })),
    });
  }

  #judge(metrics: MetricRecord[]): { verdict: Verdict; reason: string } {
    return judge({
      steps: this.#records,
      metrics,
      baselineFailed: this.#baselineFailed,
      untargeted: untargetedSteps(this.#plan.steps),
      acted: this.#acted,
    });
  }

  #setError(reason: string): void {
    this.#verdict ??= { verdict: "error", reason };
    this.#log(reason);
  }

  #order(vm: string): number {
    return this.#recipe.inventory.findIndex((entry) => entry.name === vm);
  }

  #log(line: string): void {
    const text = printable(this.#redact.text(line));
    this.#options.log?.(this.#options.color ? paint(text) : text);
  }
}

/**
 * How much longer than a step's deadline its guard waits: an action that
 * honours its deadline reports its own timeout (with what it saw) first.
 */
const STEP_GUARD_MS = 1000;

/**
 * How long a step that passed its deadline or was interrupted waits for its
 * actions to undo what they started (a migration cancelled, a frozen guest
 * thawed) before it reports: nothing it began acts after it ended.
 */
const SETTLE_MS = 120_000;

/** The names of the steps (blocks' children included, cleanup not) whose selector picked no VM. */
function untargetedSteps(steps: readonly PlannedStep[]): string[] {
  return steps.filter((planned) => !planned.skip).flatMap((planned) => [
    ...(planned.targets.length === 0 ? [planned.step.name] : []),
    ...(planned.block ? untargetedSteps([...planned.block.steps, ...planned.block.always]) : []),
  ]);
}

/** ` — NOTE` for an action whose output says something worth a line (how a stop went). */
function noteOf(output: unknown): string {
  const note = (output as { note?: unknown } | undefined)?.note;
  return typeof note === "string" ? ` — ${note}` : "";
}

function consoleCursor(vm: Vm): number {
  try {
    return vm.console.cursor();
  } catch {
    return 0;
  }
}

function lastLine(vm: Vm | undefined): string {
  try {
    return vm?.console.describeLastLine() ?? "";
  } catch {
    return ""; // No console (guest none, or attached).
  }
}

function renderTemplate(template: Template, vm: string, seed: number): string {
  return template.map((part) =>
    typeof part === "string" ? part : part.ref === "vm.name" ? vm : String(seed)
  ).join("");
}

/** Replace `{ $template }` leaves (from the parser) with their text for `vm`. */
function render(value: unknown, vm: string, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item) => render(item, vm, seed));
  if (value && typeof value === "object") {
    if ("$template" in value) {
      return renderTemplate((value as { $template: Template }).$template, vm, seed);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, vm, seed)]));
  }
  return value;
}

/** Color a progress line for a terminal: passes green, failures red, step heads bold. */
function paint(line: string): string {
  if (line.startsWith("  ✓")) return `\x1b[32m${line}\x1b[0m`;
  if (line.startsWith("  ✗")) return `\x1b[31m${line}\x1b[0m`;
  if (line.startsWith("▶")) return `\x1b[1m${line}\x1b[0m`;
  return line;
}

/** How many of `targets` VMs may fail under the step's `max-failures` (0 without it). */
function allowedFailures(step: Step, targets: number): number {
  const max = step.maxFailures;
  if (max === undefined) return 0;
  return "count" in max ? max.count : Math.floor((targets * max.percent) / 100);
}
