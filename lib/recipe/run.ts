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

import { judge } from "./verdict.ts";
import { TimeoutError } from "../errors.ts";
import type { Lab } from "../vm/lab.ts";
import { resolveSelector } from "../vm/select.ts";
import type { CheckpointSink, LabContext } from "./actions/action.ts";
import type { LabNetworks } from "../vm/network.ts";
import type { DetachedVm } from "../vm/vm.ts";
import { after } from "../_async.ts";
import { showDuration } from "./duration.ts";
import type { Recipe, Step } from "./model.ts";
import { isBlock } from "./actions/block.ts";
import { type Plan, type PlannedStep, untargetedSteps } from "./plan.ts";
import {
  EXIT_CODES,
  type MetricRecord,
  type RunJournal,
  type StepRecord,
  type Verdict,
} from "./journal.ts";
import { RunClock } from "./report.ts";
import { ReportDir } from "./report_dir.ts";
import { UndoStack } from "./_undo.ts";
import { Outcomes } from "./_outcomes.ts";
import { Targets } from "./_targets.ts";
import { absentRecord, bringUp } from "./_bring_up.ts";
import { EventRecorder } from "./_watch.ts";
import { release } from "./_release.ts";
import { Checks } from "./_invariants.ts";
import { allowedFailures } from "./_tolerance.ts";
import { runBlock } from "./_blocks.ts";
import { Redactor } from "./secrets.ts";
import type { RunOptions, RunResult } from "./run_options.ts";
import type { RunEvent, RunListener } from "./run_events.ts";
import { listenersOf } from "./live/listeners.ts";
import { Probes } from "./_probes.ts";
import { Asker } from "./_ask.ts";
import { checkpointStore, planRun, type Resumed } from "./_checkpoints.ts";

export type { FailurePause, ProgressEvent, RunOptions, RunResult } from "./run_options.ts";

/**
 * Run a validated recipe.
 *
 * @throws {RecipeError} The plan found a problem (as `check` would).
 * @throws {CheckpointError} `resumeFrom` names a checkpoint that cannot be resumed from.
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
  const { plan, resumed } = await planRun(recipe, options);
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
  const runner = new Runner(plan, options, redact, report, clock, resumed);
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
  #outcomes = new Outcomes();
  #targets: Targets;
  #mutated = false;
  #acted = false;
  #baselineFailed = false;
  #verdict: { verdict: Verdict; reason: string } | undefined;
  #abort = new AbortController();
  #ask: Asker;
  #forks: number;
  #events: EventRecorder;
  #probes: Probes;
  #checks: Checks;
  #listeners: RunListener[];
  /** " (batch 2/3)" while a serial block runs its batches. */
  #batchLabel = "";
  /** What actions with an `undo` owe: the run's steps, then each block batch in it. */
  #undos: UndoStack;
  /** What the lab starts from (`--resume-from`), and where checkpoint steps save it. */
  #checkpoints: { from: Resumed | undefined; store: CheckpointSink | undefined };

  constructor(
    plan: Plan,
    options: RunOptions,
    redact: Redactor,
    report: ReportDir | undefined,
    clock: RunClock,
    from?: Resumed,
  ) {
    this.#plan = plan;
    const store = checkpointStore(options, plan, () => this.#undos.root.pending);
    this.#checkpoints = { from, store };
    this.#recipe = plan.recipe;
    this.#options = options;
    this.#ask = new Asker(options, () => this.#lab);
    this.#redact = redact;
    this.#report = report;
    this.#clock = clock;
    this.#forks = options.forks ?? plan.recipe.forks;
    this.#checks = new Checks(plan.recipe, {
      offset: (epochMs) => clock.offset(epochMs),
      members: () => this.#lab?.members ?? [],
    });
    this.#events = new EventRecorder(report, clock, this.#checks.active ? this.#checks : undefined);
    this.#targets = new Targets({
      lab: () => this.#lab!,
      clock,
      seed: plan.seed,
      forks: this.#forks,
      defaultTimeout: plan.recipe.timeout,
      report,
      signal: () => this.#abort.signal,
      batchLabel: () => this.#batchLabel,
      undos: () => this.#undos.current,
      watch: (vm) => this.#events.watch(vm),
      emit: (event) => this.#emit(event),
      labContext: () => this.#labContext(),
      heal: (vm, id) => this.#undos.healOn(vm, id),
    });
    this.#undos = new UndoStack({
      clock: this.#clock,
      timeoutOf: (step) => step.timeout ?? this.#recipe.timeout,
      lab: () => this.#labContext(),
      publish: (record) => {
        this.#emit({ type: "undone", record });
        this.#records.push(record);
      },
    });
    this.#probes = new Probes(plan.probes, {
      clock,
      vm: (name) => this.#lab && !this.#absent.has(name) ? this.#lab.vm(name) : undefined,
      contextFor: (vm, signal, timeout) => this.#targets.contextFor(vm, signal, timeout),
    });
    this.#listeners = [
      ...listenersOf(options, report),
      (event) => this.#probes.listen(event),
      (event) => this.#checks.listen(event),
    ];
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
    this.#emit({
      type: "run-start",
      recipe: this.#recipe.name,
      seed: this.#plan.seed,
      vms: this.#recipe.inventory.length,
      forks: this.#forks,
      shortSecrets: this.#redact.short,
    });
    try {
      if (await this.#bringUp()) {
        this.#probes.startWithSteps();
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
    await this.#probes.stopAll(); // they watch the steps, not the healing or finally
    // A fault corral injected is healed before finally, however the steps ended.
    await this.#undos.root.healAll();
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
    await this.#undos.root.healAll(); // what finally itself started
    for (const name of failedBefore) this.#failed.add(name);
    await this.#checks.consoles(this.#lab ? this.#lab.names.map((n) => this.#lab!.vm(n)) : []);
    const journal = this.#journal();
    this.#emit({ type: "verdict", verdict: journal.verdict, reason: journal.reason });
    return { journal, exitCode: EXIT_CODES[journal.verdict] };
  }

  /**
   * Stop what corral launched (or, with keep, leave it running and say
   * where), close the rest, finish the report.
   */
  async release(): Promise<DetachedVm[]> {
    return await release(this.#lab, this.#networks, {
      report: this.#report,
      keep: this.#options.keep ?? false,
      events: this.#events,
      journal: () => this.#journal(),
    });
  }

  async #bringUp(): Promise<boolean> {
    const up = await bringUp(this.#plan, this.#options, {
      report: this.#report,
      redact: this.#redact,
      forks: this.#forks,
      signal: this.#abort.signal,
      emit: (event) => this.#emit(event),
      checkpoint: this.#checkpoints.from?.lab,
    });
    this.#lab = up.lab;
    this.#networks = up.networks;
    if (up.error !== undefined) {
      this.#setError(up.error);
      return false;
    }
    const inventory = this.#recipe.inventory.filter((vm) => this.#plan.vms.includes(vm.name));
    const absent = absentRecord(inventory.map((vm) => vm.name), up.lab!.failures, this.#clock);
    for (const target of absent?.targets ?? []) {
      if (target.status === "ok") continue;
      this.#absent.add(target.vm);
      this.#emit({ type: "vm-lost", vm: target.vm, how: "brought up", error: target.error! });
    }
    if (absent) this.#records.push(absent);
    for (const entry of inventory) {
      if (this.#absent.has(entry.name)) continue;
      const vm = this.#lab!.vm(entry.name);
      this.#targets.track(vm);
      this.#events.watch(vm);
      const restored = this.#plan.resumeFrom;
      this.#emit({ type: "vm-up", vm: vm.name, attached: !!entry.attach, restored, pid: vm.pid });
    }
    return true;
  }

  async #runStep(
    planned: PlannedStep,
    only: string[] | undefined,
    cleanup = false,
  ): Promise<string[]> {
    const { step } = planned;
    const record = this.#startRecord(planned);
    const { targets: conditional, skipped, why } = await this.#pick(planned, only, cleanup);
    this.#emit({
      type: "step-start",
      step: step.name,
      id: step.id,
      batch: this.#batchLabel,
      path: planned.path,
      targets: conditional,
      skipped: why,
      block: isBlock(step.action),
      mutates: step.mutates && !isBlock(step.action),
      ms: record.startMs,
    });

    const failures: string[] = [];
    if (isBlock(step.action)) {
      failures.push(...await this.#runBlock(planned, conditional, record, cleanup));
    } else {
      const results = await this.#targets.run(step, planned.path, conditional, cleanup);
      if (step.duration !== undefined) this.#undos.current.healLater(step, step.duration);
      for (const result of results) {
        record.targets.push(result);
        if (result.status !== "ok") failures.push(result.vm);
      }
      this.#applyFailures(step, record, failures, conditional.length);
      if (!cleanup && conditional.length > 0) this.#acted = true;
    }
    for (const name of skipped) record.targets.push({ vm: name, status: "skipped" });
    this.#endRecord(planned, record);
    if (!cleanup) await this.#ask.afterStep(record, () => this.#abort.abort());
    return failures;
  }

  /** A step's record, begun now. */
  #startRecord(planned: PlannedStep): StepRecord {
    const startMs = this.#clock.ms();
    const record: StepRecord = {
      name: planned.step.name + this.#batchLabel,
      path: planned.path,
      action: planned.step.action.kind,
      targets: [],
      startedAt: this.#clock.iso(startMs),
      endedAt: "",
      startMs,
      endMs: 0,
    };
    if (planned.step.id) record.id = planned.step.id;
    return record;
  }

  /**
   * The VMs a step runs on (of its planned targets, those in `only`, up,
   * not failed unless cleanup, and where its `if` holds), the others
   * skipped, and why all are skipped (`--step`, `--start-at`).
   */
  async #pick(
    planned: PlannedStep,
    only: string[] | undefined,
    cleanup: boolean,
  ): Promise<{ targets: string[]; skipped: string[]; why: string | undefined }> {
    const { step } = planned;
    const base = (only ? planned.targets.filter((name) => only.includes(name)) : planned.targets)
      .filter((name) => !this.#absent.has(name));
    const eligible = cleanup ? base : base.filter((name) => !this.#failed.has(name));
    const skipped = base.filter((name) => !eligible.includes(name));
    const why = planned.skip ?? (cleanup ? undefined : await this.#ask.skip(planned));
    if (why) skipped.push(...eligible.splice(0));
    const context = { vars: this.#recipe.vars, anyFailed: this.#failed.size > 0 };
    const targets = eligible.filter((name) =>
      !step.if || this.#outcomes.holds(step.if, name, context)
    );
    skipped.push(...eligible.filter((name) => !targets.includes(name)));
    return { targets, skipped, why };
  }

  /** End a step's record: keep it, its outcomes, and say so. */
  #endRecord(planned: PlannedStep, record: StepRecord): void {
    const { step } = planned;
    record.targets.sort((a, b) => this.#order(a.vm) - this.#order(b.vm));
    record.endMs = this.#clock.ms();
    record.endedAt = this.#clock.iso(record.endMs);
    this.#records.push(record);
    for (const target of record.targets) this.#outcomes.record(step.id, target);
    this.#emit({
      type: "step-end",
      step: step.name,
      id: step.id,
      batch: record.name.slice(step.name.length),
      path: planned.path,
      targets: record.targets,
      block: isBlock(step.action),
      ms: record.endMs,
    });
    // A mutating step that ran may have changed a VM, even where it failed or timed out.
    if (step.mutates && record.targets.some((t) => t.status !== "skipped")) this.#mutated = true;
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

  /** A block's children, batch by batch, on the runner's state. */
  #runBlock(
    planned: PlannedStep,
    targets: string[],
    record: StepRecord,
    cleanup: boolean,
  ): Promise<string[]> {
    return runBlock(planned, targets, record, cleanup, {
      failed: this.#failed,
      records: this.#records,
      aborted: () => this.#abort.signal.aborted,
      runStep: (child, batch, always) => this.#runStep(child, batch, always),
      label: (label) => {
        const outer = this.#batchLabel;
        this.#batchLabel = label ?? outer;
        return outer;
      },
      withUndo: (run) => this.#undos.within(run),
      emit: (event) => this.#emit(event),
    });
  }

  /** The journal, secrets masked. */
  #journal(): RunJournal {
    const probes = this.#probes.records;
    const metrics = this.#outcomes.metrics(this.#recipe.metrics, probes);
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
      ...(probes.length ? { probes } : {}),
      ...(this.#checks.violations.length ? { violations: this.#checks.violations } : {}),
      ...(this.#networks?.captures.length ? { captures: this.#networks.captures } : {}),
    });
  }

  #judge(metrics: MetricRecord[]): { verdict: Verdict; reason: string } {
    return judge({
      steps: this.#records,
      metrics,
      baselineFailed: this.#baselineFailed,
      untargeted: untargetedSteps(this.#plan.steps),
      acted: this.#acted,
      violations: this.#checks.violations,
    });
  }

  #setError(reason: string): void {
    this.#verdict ??= { verdict: "error", reason };
    this.#emit({ type: "problem", reason });
  }

  #order(vm: string): number {
    return this.#recipe.inventory.findIndex((entry) => entry.name === vm);
  }

  /** What actions see of the lab: its networks, its VMs by selector. */
  #labContext(): LabContext {
    const up = (name: string) => !this.#absent.has(name);
    const select = (s: string) => resolveSelector(s, this.#lab?.members ?? []).filter(up);
    const recipeDir = this.#recipe.file.replace(/\/?[^/]*$/, "") || ".";
    const [reportDir, checkpoints] = [this.#report?.dir, this.#checkpoints.store];
    return { networks: this.#networks, select, reportDir, recipeDir, checkpoints };
  }

  /** Tell every listener, secrets masked. */
  #emit(event: RunEvent): void {
    const masked = this.#redact.value(event);
    for (const listen of this.#listeners) listen(masked);
  }
}
