/**
 * Running a recipe: launch (or attach) the inventory, run the steps in
 * lockstep (at most `forks` VMs at once, each within its deadline), keep
 * failed VMs out of later steps, always run `finally`, measure the metrics,
 * give a verdict, and stop what corral launched.
 *
 * @module
 */

import { ConnectionClosedError, CorralError, LaunchError, TimeoutError } from "../errors.ts";
import { subsetMatch } from "../qmp/match.ts";
import { forEachNamed } from "../vm/_each.ts";
import { launch } from "../vm/launch.ts";
import type { Vm } from "../vm/vm.ts";
import { Vm as VmClass } from "../vm/vm.ts";
import { showDuration } from "./duration.ts";
import {
  type Action,
  type Condition,
  mutates,
  type Recipe,
  type Step,
  type Template,
} from "./model.ts";
import { type Plan, type PlannedStep, planRecipe, randomSeed } from "./plan.ts";
import {
  EXIT_CODES,
  type MetricRecord,
  Redactor,
  ReportWriter,
  type RunJournal,
  type StepRecord,
  type TargetRecord,
  type Verdict,
} from "./report.ts";

/** Options of {@linkcode runRecipe}. */
export interface RunOptions {
  /** The seed for picks. Default: a random one (printed, and kept in the journal). */
  seed?: number;
  /** Override the recipe's `defaults.forks`. */
  forks?: number;
  /** Leave the VMs corral launched running at the end. Default `false`. */
  keep?: boolean;
  /** Write the report (events.jsonl, journal.json, junit.xml, per-VM logs) here. */
  reportDir?: string;
  /** A deadline for the whole run (not `finally`), in ms. */
  deadline?: number;
  /** Aborting it (Ctrl-C) stops the steps; `finally` still runs. */
  signal?: AbortSignal;
  /** Progress, line by line, for a terminal or a log. */
  log?: (line: string) => void;
  /** Color the progress lines. Default `false`. */
  color?: boolean;
}

/** What a run produced. */
export interface RunResult {
  /** Everything that happened, the verdict included. */
  journal: RunJournal;
  /** The command line's exit code for the verdict. */
  exitCode: number;
  /** The VMs, when `keep` left them running. */
  vms: Map<string, Vm>;
}

/** A step failed on purpose, or a check did not hold. */
class StepFailure extends CorralError {}

/**
 * Run a validated recipe.
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
  const seed = options.seed ?? randomSeed();
  const plan = planRecipe(recipe, seed);
  const redact = new Redactor(recipe.vars);
  const report = options.reportDir ? await ReportWriter.open(options.reportDir, redact) : undefined;
  const runner = new Runner(plan, options, redact, report);
  try {
    return await runner.run();
  } finally {
    await runner.release();
  }
}

interface Marks {
  events: number;
  console: number;
}

class Runner {
  #plan: Plan;
  #recipe: Recipe;
  #options: RunOptions;
  #redact: Redactor;
  #report: ReportWriter | undefined;
  #vms = new Map<string, Vm>();
  #failed = new Set<string>();
  #records: StepRecord[] = [];
  #outcomes = new Map<string, Map<string, TargetRecord["status"]>>();
  #times = new Map<string, Map<string, { start: number; end: number }>>();
  #marks = new Map<string, { previous: Marks; current: Marks }>();
  #t0 = performance.now();
  #started = new Date();
  #mutated = false;
  #baselineFailed = false;
  #verdict: { verdict: Verdict; reason: string } | undefined;
  #abort = new AbortController();
  #forks: number;
  #watchers: Promise<void>[] = [];
  #watchStop = new AbortController();
  #logged = new Map<string, number>();
  /** " (batch 2/3)" while a serial block runs its batches. */
  #batchLabel = "";

  constructor(plan: Plan, options: RunOptions, redact: Redactor, report: ReportWriter | undefined) {
    this.#plan = plan;
    this.#recipe = plan.recipe;
    this.#options = options;
    this.#redact = redact;
    this.#report = report;
    this.#forks = options.forks ?? plan.recipe.forks;
  }

  async run(): Promise<RunResult> {
    const { signal, deadline } = this.#options;
    const onAbort = () => this.#abort.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = deadline === undefined ? undefined : setTimeout(
      () =>
        this.#abort.abort(
          new TimeoutError(`the run passed its deadline of ${showDuration(deadline)}`, {
            timeout: deadline,
          }),
        ),
      deadline,
    );
    this.#log(
      `recipe ${this.#recipe.name}: seed ${this.#plan.seed}, ${this.#recipe.inventory.length} VM(s), forks ${this.#forks}`,
    );
    this.#report?.event({
      type: "run-start",
      recipe: this.#recipe.name,
      seed: this.#plan.seed,
      time: this.#started.toISOString(),
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
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
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
    for (const planned of this.#plan.finally) await this.#runStep(planned, undefined, true);
    for (const name of failedBefore) this.#failed.add(name);
    const journal = this.#journal();
    this.#log(`verdict ${journal.verdict}: ${journal.reason}`);
    return {
      journal,
      exitCode: EXIT_CODES[journal.verdict],
      vms: this.#options.keep ? this.#vms : new Map(),
    };
  }

  /** Stop what corral launched (unless keep), close the rest, finish the report. */
  async release(): Promise<void> {
    // The console logs live in the VMs' directories, which disposing removes: copy them first.
    if (this.#report) {
      for (const vm of this.#vms.values()) {
        if (vm.dir) await this.#report.console(vm.name, `${vm.dir}/console.log`);
      }
    }
    if (!this.#options.keep) {
      await forEachNamed([...this.#vms.values()], async (vm) => {
        if (vm.launched) await vm[Symbol.asyncDispose]();
        else await vm.close();
      }, { concurrency: 50, timeout: 60_000 });
    }
    this.#watchStop.abort();
    await Promise.allSettled(this.#watchers);
    await this.#report?.finish(this.#journal());
  }

  // ---- bring-up ------------------------------------------------------------

  async #bringUp(): Promise<boolean> {
    const results = await forEachNamed(this.#recipe.inventory, async (entry, signal) => {
      const vm = entry.attach
        ? await VmClass.connect(entry.attach, { name: entry.name, signal })
        : await launch(entry.spec!, { signal });
      this.#vms.set(entry.name, vm);
      this.#marks.set(entry.name, {
        previous: { events: 0, console: 0 },
        current: { events: 0, console: 0 },
      });
      this.#watch(vm);
      const report = this.#report;
      if (report) {
        vm.trace = (direction, message) => report.qmp(vm.name, `${direction} ${message}`);
      }
      return vm;
    }, { concurrency: Math.min(this.#forks, 8), timeout: 90_000, signal: this.#abort.signal });
    const failed = results.filter((result) => result.status !== "ok");
    for (const result of results) {
      const how = this.#recipe.inventory.find((vm) => vm.name === result.vm)?.attach
        ? "attached"
        : "launched";
      if (result.status === "ok") {
        this.#log(`  ${result.vm}: ${how}${result.value.pid ? ` (pid ${result.value.pid})` : ""}`);
      } else this.#log(`  ${result.vm}: could not be ${how}: ${result.error.message}`);
    }
    if (failed.length > 0) {
      const first = failed[0]!;
      const what = "error" in first ? first.error.message : "";
      this.#setError(
        `${failed.length} VM(s) could not be brought up; ${first.vm}: ${what.split("\n")[0]}`,
      );
      return false;
    }
    return true;
  }

  /** Record every QMP event of `vm` in its qmp.log and events.jsonl, from where the last watch stopped. */
  #watch(vm: Vm): void {
    if (!this.#report) return;
    const report = this.#report;
    this.#watchers.push((async () => {
      try {
        const since = this.#logged.get(vm.name) ?? 0;
        for await (
          const event of vm.client.journal.events({}, { since, signal: this.#watchStop.signal })
        ) {
          this.#logged.set(vm.name, event.seq);
          report.event({
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
    const base = only ? planned.targets.filter((name) => only.includes(name)) : planned.targets;
    const eligible = cleanup ? base : base.filter((name) => !this.#failed.has(name));
    const record: StepRecord = {
      name: step.name + this.#batchLabel,
      path: planned.path,
      action: step.action.kind,
      targets: [],
      start: this.#now(),
      end: 0,
    };
    if (step.id) record.id = step.id;
    const skipped = base.filter((name) => !eligible.includes(name));
    const conditional = eligible.filter((name) => !step.if || this.#holds(step.if, name));
    const skippedByIf = eligible.filter((name) => !conditional.includes(name));
    this.#log(`▶ ${step.name}${conditional.length ? ` on ${conditional.join(", ")}` : " (no VM)"}`);
    this.#report?.event({
      type: "step-start",
      step: step.name,
      path: planned.path,
      targets: conditional,
      time: record.start,
    });

    const failures: string[] = [];
    if (step.action.kind === "block") {
      failures.push(...await this.#runBlock(planned, conditional, record, cleanup));
    } else {
      const results = await this.#runTargets(step, conditional, cleanup);
      for (const result of results) {
        record.targets.push(result);
        if (result.status !== "ok") failures.push(result.vm);
      }
      this.#applyFailures(step, record, failures, conditional.length);
    }
    for (const name of [...skipped, ...skippedByIf]) {
      record.targets.push({ vm: name, status: "skipped" });
    }
    record.targets.sort((a, b) => this.#order(a.vm) - this.#order(b.vm));
    record.end = this.#now();
    this.#records.push(record);
    for (const target of record.targets) this.#outcome(step.id, target);
    this.#report?.event({
      type: "step-end",
      step: step.name,
      path: planned.path,
      time: record.end,
      targets: record.targets,
    });
    if (mutates(step.action) && record.targets.some((t) => t.status === "ok")) this.#mutated = true;
    return failures;
  }

  /** Mark failures as allowed or not, and keep failed VMs out of later steps. */
  #applyFailures(step: Step, record: StepRecord, failures: string[], total: number): void {
    if (failures.length === 0) return;
    const allowedCount = allowedFailures(step, total);
    const tolerated = step.continueOnError || failures.length <= allowedCount;
    for (const target of record.targets) {
      if (target.status === "ok" || !failures.includes(target.vm)) continue;
      if (tolerated) target.allowed = true;
      if (!step.continueOnError) this.#failed.add(target.vm);
    }
    if (!tolerated && !this.#mutated) this.#baselineFailed = true;
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
      for (const child of block.steps) {
        if (this.#abort.signal.aborted && !cleanup) break;
        await this.#runStep(child, batch, cleanup);
      }
      const failedHere = batch.filter((name) => this.#failed.has(name) && !before.has(name));
      if (failedHere.length > 0 && block.rescue.length > 0) {
        for (const name of failedHere) this.#failed.delete(name);
        for (const child of block.rescue) await this.#runStep(child, failedHere, cleanup);
      }
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
      if (stillFailed.length > allowed) {
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
      // Within max-failures: the failed VMs stay out of later steps, but the batch is allowed.
      for (const target of record.targets) {
        if (stillFailed.includes(target.vm)) target.allowed = true;
      }
    }
    const unallowed = record.targets.filter((t) => t.status === "failed" && !t.allowed);
    if (step.continueOnError) { for (const target of unallowed) target.allowed = true; }
    return failures;
  }

  async #runTargets(step: Step, targets: string[], cleanup: boolean): Promise<TargetRecord[]> {
    const timeout = step.timeout ?? this.#recipe.timeout;
    const signal = cleanup ? new AbortController().signal : this.#abort.signal;
    const vms = targets.map((name) => this.#vms.get(name)!).filter(Boolean);
    for (const vm of vms) this.#stepStarted(vm);
    const times = new Map<string, { start: number; end?: number }>();
    const results = await forEachNamed(vms, async (vm, stepSignal) => {
      const start = this.#now();
      const time: { start: number; end?: number } = { start };
      times.set(vm.name, time);
      const attempts = step.retry?.attempts ?? 1;
      let last: unknown;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const output = await this.#act(
            vm,
            step.action,
            stepSignal,
            Math.max(1, timeout - (this.#now() - start)),
            step.name,
          );
          if (step.retry?.until !== undefined && !subsetMatch(output, step.retry.until)) {
            throw new StepFailure(
              `${JSON.stringify(output)} does not match until ${JSON.stringify(step.retry.until)}`,
            );
          }
          time.end = this.#now();
          this.#log(
            `  ✓ ${vm.name} ${showDuration(time.end - start)}${
              attempt > 1 ? ` (attempt ${attempt})` : ""
            }`,
          );
          return { output, attempts: attempt };
        } catch (error) {
          last = error;
          if (attempt === attempts || stepSignal.aborted) break;
          await sleep(step.retry!.interval, stepSignal).catch(() => {});
        }
      }
      time.end = this.#now();
      throw last;
    }, { concurrency: this.#forks, timeout, signal });
    return results.map((result) => {
      const time = times.get(result.vm);
      const start = time?.start ?? this.#now();
      const end = time?.end ?? this.#now();
      if (result.status === "ok") {
        const record: TargetRecord = {
          vm: result.vm,
          status: "ok",
          start,
          end,
          attempts: result.value.attempts,
        };
        if (result.value.output !== undefined) record.output = result.value.output;
        return record;
      }
      const vm = this.#vms.get(result.vm);
      const status = result.status === "timeout"
        ? "timeout"
        : result.error instanceof LaunchError
        ? "error"
        : "failed";
      const message = result.status === "timeout"
        ? `step '${step.name}' timed out after ${showDuration(timeout)} on ${result.vm}${
          lastLine(vm)
        }`
        : result.error.message;
      this.#log(`  ✗ ${result.vm}: ${message}`);
      return { vm: result.vm, status, start, end, error: message };
    });
  }

  #stepStarted(vm: Vm): void {
    const marks = this.#marks.get(vm.name)!;
    marks.previous = marks.current;
    marks.current = { events: vm.mark(), console: consoleCursor(vm) };
  }

  /** Do one action on one VM; resolves to its output. */
  async #act(
    vm: Vm,
    action: Action,
    signal: AbortSignal,
    timeout: number,
    stepName: string,
  ): Promise<unknown> {
    const opts = { timeout, signal };
    const since = this.#marks.get(vm.name)!.previous;
    this.#report?.qmp(vm.name, `-- step '${stepName}' (${action.kind})`);
    switch (action.kind) {
      case "qmp": {
        const args = render(action.arguments, vm.name, this.#plan.seed) as
          | Record<string, unknown>
          | undefined;
        const output = await vm.executeUntyped(action.execute, args ?? undefined, opts);
        if (action.expect !== undefined && !subsetMatch(output, action.expect)) {
          throw new StepFailure(
            `vm '${vm.name}': ${action.execute} returned ${
              JSON.stringify(output)
            }, which does not contain ${JSON.stringify(action.expect)}`,
          );
        }
        return output;
      }
      case "pause":
        return await vm.pause(opts);
      case "resume":
        return await vm.resume(opts);
      case "reset":
        return await vm.reset(opts);
      case "powerdown":
        return await vm.powerdown(opts);
      case "nmi":
        return await vm.injectNmi(opts);
      case "start":
        if (vm.launched && vm.exitStatus === undefined && vm.connected) return undefined;
        await vm.relaunch();
        this.#marks.set(vm.name, { previous: since, current: { events: vm.mark(), console: 0 } });
        this.#watch(vm);
        return undefined;
      case "stop": {
        const status = await vm.shutdown({ grace: action.grace });
        return status ? { code: status.code } : undefined;
      }
      case "kill": {
        const status = await vm.kill();
        return { signal: status.signal };
      }
      case "wait-event": {
        const event = await vm.client.journal.waitFor(
          { names: action.event, match: action.match },
          { since: since.events, timeout: Math.min(action.timeout ?? timeout, timeout), signal },
        );
        return { event: event.event, data: event.data, timestamp: event.timestamp };
      }
      case "wait-status":
        return await waitStatus(vm, action.status, timeout, signal);
      case "console-wait": {
        const line = await vm.console.waitFor(action.wait, {
          since: since.console,
          failOn: action.failOn,
          prompt: action.prompt,
          ...opts,
        });
        return line.text;
      }
      case "console-send":
        await vm.console.send(renderTemplate(action.send, vm.name, this.#plan.seed));
        return undefined;
      case "console-exec": {
        const line = await vm.console.exec(renderTemplate(action.exec, vm.name, this.#plan.seed), {
          expect: action.expect,
          failOn: action.failOn,
          prompt: action.prompt,
          ...opts,
        });
        return line.text;
      }
      case "panic-action":
        return await vm.setPanicAction(action.policy as "pause", opts);
      case "sleep":
        return await sleep(action.ms, signal);
      case "fail":
        throw new StepFailure(
          `vm '${vm.name}': ${renderTemplate(action.message, vm.name, this.#plan.seed)}`,
        );
      case "block":
        throw new CorralError("a block runs through #runBlock");
    }
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
    if (target.start !== undefined && target.end !== undefined) {
      if (!this.#times.has(id)) this.#times.set(id, new Map());
      this.#times.get(id)!.set(target.vm, { start: target.start, end: target.end });
    }
  }

  #metrics(): MetricRecord[] {
    return this.#recipe.metrics.map((metric) => {
      const values: Record<string, number> = {};
      const from = this.#times.get(metric.from.step);
      const to = this.#times.get(metric.to.step);
      for (const [vm, a] of from ?? []) {
        const b = to?.get(vm);
        if (b) values[vm] = Math.round((b[metric.to.edge] - a[metric.from.edge]) * 10) / 10;
      }
      const record: MetricRecord = { name: metric.name, values };
      if (metric.max !== undefined) {
        record.max = metric.max;
        if (Object.keys(values).length > 0) {
          record.pass = Object.values(values).every((v) => v <= metric.max!);
        }
      }
      return record;
    });
  }

  #journal(): RunJournal {
    const metrics = this.#metrics();
    const { verdict, reason } = this.#verdict ?? this.#judge(metrics);
    return {
      recipe: this.#recipe.name,
      file: this.#recipe.file,
      seed: this.#plan.seed,
      started: this.#started.toISOString(),
      durationMs: Math.round(this.#now()),
      verdict,
      reason,
      steps: this.#records,
      metrics,
    };
  }

  #judge(metrics: MetricRecord[]): { verdict: Verdict; reason: string } {
    const failed = this.#records.flatMap((step) =>
      step.targets.filter((t) => ["failed", "timeout", "error"].includes(t.status) && !t.allowed)
        .map((t) => `${step.name} on ${t.vm}`)
    );
    if (
      this.#records.some((step) => step.targets.some((t) => t.status === "error" && !t.allowed))
    ) {
      return { verdict: "error", reason: `corral or QEMU broke: ${failed.join("; ")}` };
    }
    if (failed.length > 0 && this.#baselineFailed) {
      return {
        verdict: "unknown",
        reason: `the baseline was unhealthy before any fault: ${failed.join("; ")}`,
      };
    }
    if (failed.length > 0) return { verdict: "fail", reason: `failed: ${failed.join("; ")}` };
    const exceeded = metrics.filter((m) => m.pass === false).map((m) => m.name);
    if (exceeded.length > 0) {
      return { verdict: "fail", reason: `metric(s) over their max: ${exceeded.join(", ")}` };
    }
    const unmeasured = metrics.filter((m) => Object.keys(m.values).length === 0).map((m) => m.name);
    if (unmeasured.length > 0) {
      return { verdict: "unknown", reason: `could not measure: ${unmeasured.join(", ")}` };
    }
    return {
      verdict: "pass",
      reason: "every step passed on every VM" + (metrics.length ? ", metrics within bounds" : ""),
    };
  }

  #setError(reason: string): void {
    this.#verdict ??= { verdict: "error", reason };
    this.#log(reason);
  }

  #order(vm: string): number {
    return this.#recipe.inventory.findIndex((entry) => entry.name === vm);
  }

  #now(): number {
    return performance.now() - this.#t0;
  }

  #log(line: string): void {
    const text = this.#redact.text(line);
    this.#options.log?.(this.#options.color ? paint(text) : text);
  }
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

async function waitStatus(
  vm: Vm,
  wanted: readonly string[],
  timeout: number,
  signal: AbortSignal,
): Promise<string> {
  const end = performance.now() + timeout;
  let last = "";
  while (performance.now() < end) {
    signal.throwIfAborted();
    try {
      last = (await vm.status({ timeout: Math.max(1, end - performance.now()), signal })).status;
    } catch (error) {
      if (!(error instanceof ConnectionClosedError)) throw error;
      last = "gone";
    }
    if (wanted.includes(last)) return last;
    await sleep(Math.min(50, Math.max(0, end - performance.now())), signal);
  }
  throw new TimeoutError(
    `vm '${vm.name}': run state is ${last}, not ${wanted.join(" or ")}, after ${
      showDuration(timeout)
    }`,
    {
      vm: vm.name,
      timeout,
    },
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
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
