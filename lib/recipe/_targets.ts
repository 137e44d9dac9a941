/**
 * One step on its target VMs: each within the step's deadline (retries
 * and `until` included), at most `forks` at once, its record per VM saying
 * how it ended and — for a timeout — what timed out and what the VM was
 * doing; the cursors that make waits count from the previous step.
 *
 * @module
 */

import { CorralError, DeadlineError, LaunchError, TimeoutError } from "../errors.ts";
import { subsetMatch } from "../qmp/match.ts";
import { Fleet, type VmResult } from "../vm/fleet.ts";
import type { Lab } from "../vm/lab.ts";
import type { Vm } from "../vm/vm.ts";
import { delay } from "../_async.ts";
import { showDuration } from "./duration.ts";
import type { Step } from "./model.ts";
import type { ActionKind, LabContext, Marks, RunContext } from "./actions/action.ts";
import { actionKind } from "./actions/registry.ts";
import type { TargetRecord } from "./journal.ts";
import type { RunClock } from "./report.ts";
import type { ReportDir } from "./report_dir.ts";
import type { UndoScope } from "./_undo.ts";
import type { RunEvent } from "./run_events.ts";
import { renderTemplate, renderValue } from "./_render.ts";
import { freshName, reportFile } from "./report_files.ts";

/** What the run lends the step execution. */
export interface TargetContext {
  lab(): Lab;
  clock: RunClock;
  seed: number;
  forks: number;
  /** The recipe's default step timeout. */
  defaultTimeout: number;
  /** The report, whose qmp.log marks where each step began. */
  report: ReportDir | undefined;
  /** The run's signal (Ctrl-C, its deadline). */
  signal(): AbortSignal;
  /** " (batch 2/3)" while a serial block runs its batches. */
  batchLabel(): string;
  /** The undo scope an action with `undo` owes into. */
  undos(): UndoScope;
  /** Record a VM's events again (after it was started again). */
  watch(vm: Vm): void;
  /** Tell the run's listeners. */
  emit(event: RunEvent): void;
  /** What actions see of the lab. */
  labContext(): LabContext;
  /** Undo the faults (of step `id`, or all) still on `vm`; resolves to how many. */
  heal(vm: string, id: string | undefined): Promise<number>;
}

/** Per VM: where the previous and the current step began. */
interface VmMarks {
  previous: Marks;
  current: Marks;
}

/** Runs steps' actions on their target VMs. */
export class Targets {
  #context: TargetContext;
  #marks = new Map<string, VmMarks>();

  constructor(context: TargetContext) {
    this.#context = context;
  }

  /**
   * Start counting `vm`'s events and console lines for waits, and follow
   * the VM when it says it started again (a new console, its events watched
   * again) or moved to another QEMU (the same journal, a new console).
   */
  track(vm: Vm): void {
    this.#marks.set(vm.name, {
      previous: { events: 0, console: 0 },
      current: { events: 0, console: 0 },
    });
    vm.onChange((change) => {
      const marks = this.#marks.get(vm.name)!;
      if (change === "restarted") {
        marks.current = { events: vm.mark(), console: 0 };
        this.#context.watch(vm);
      } else marks.current = { ...marks.current, console: 0 };
    });
  }

  /** Run `step` on `targets`; resolves to a record per VM. */
  async run(
    step: Step,
    path: string,
    targets: string[],
    cleanup: boolean,
  ): Promise<TargetRecord[]> {
    const timeout = step.timeout ?? this.#context.defaultTimeout;
    const kind = actionKind(step.action.kind)!;
    const signal = cleanup ? new AbortController().signal : this.#context.signal();
    const vms = targets.map((name) => this.#context.lab().vm(name));
    for (const vm of vms) this.#stepStarted(vm);
    if (kind.runTogether) return await this.#together(step, kind, vms, timeout, signal);
    const times = new Map<string, { start: number; end?: number }>();
    const results = await new Fleet(vms).run(async (vm, stepSignal) => {
      const start = this.#context.clock.ms();
      const time: { start: number; end?: number } = { start };
      times.set(vm.name, time);
      const owed = kind.undo ? this.#context.undos().owe(step, path, kind, vm) : undefined;
      const attempts = step.retry?.attempts ?? 1;
      let last: unknown;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
          const left = Math.max(1, timeout - (this.#context.clock.ms() - start));
          const output = await this.#act(vm, kind, step, stepSignal, left, owed);
          if (owed) owed.output = output;
          if (step.retry?.until !== undefined && !subsetMatch(output, step.retry.until)) {
            throw new CorralError(
              `${JSON.stringify(output)} does not match until ${JSON.stringify(step.retry.until)}`,
              { vm: vm.name },
            );
          }
          time.end = this.#context.clock.ms();
          this.#done(step, vm.name, time.end - start, output, attempt);
          return { output, attempts: attempt };
        } catch (error) {
          last = error;
          if (attempt === attempts || stepSignal.aborted) break;
          await delay(step.retry!.interval, { signal: stepSignal }).catch(() => {});
        }
      }
      time.end = this.#context.clock.ms();
      throw last;
    }, {
      concurrency: this.#context.forks,
      timeout: timeout + STEP_GUARD_MS,
      signal,
      settle: SETTLE_MS,
    });
    return await Promise.all(
      results.results.map((result) => this.#targetRecord(step, kind, timeout, result, times)),
    );
  }

  /** Run an action that acts on all its targets at once: one outcome, every target's. */
  async #together(
    step: Step,
    kind: ActionKind,
    vms: readonly Vm[],
    timeout: number,
    signal: AbortSignal,
  ): Promise<TargetRecord[]> {
    const start = this.#context.clock.ms();
    const lab = this.#context.labContext();
    let outcome: { output: unknown } | { error: Error };
    try {
      outcome = { output: await kind.runTogether!(step.action, { vms, signal, timeout, lab }) };
    } catch (error) {
      outcome = { error: error as Error };
    }
    const end = this.#context.clock.ms();
    const ms = end - start;
    const times = new Map(vms.map((vm) => [vm.name, { start, end }]));
    return await Promise.all(vms.map((vm) => {
      if ("output" in outcome) this.#done(step, vm.name, ms, outcome.output, 1);
      const result: VmResult<{ output: unknown; attempts: number }> = "output" in outcome
        ? { vm: vm.name, status: "ok", value: { output: outcome.output, attempts: 1 }, ms }
        : outcome.error instanceof TimeoutError
        ? { vm: vm.name, status: "timeout", error: outcome.error, ms }
        : { vm: vm.name, status: "error", error: outcome.error, ms };
      return this.#targetRecord(step, kind, timeout, result, times);
    }));
  }

  /** Tell the listeners a VM is done with a step. */
  #done(step: Step, vm: string, ms: number, output: unknown, attempt: number): void {
    this.#context.emit({
      type: "vm-done",
      step: step.name,
      batch: this.#context.batchLabel(),
      vm,
      status: "ok",
      ms,
      attempt,
      note: noteOf(output),
    });
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
    const start = time?.start ?? this.#context.clock.ms();
    const end = time?.end ?? this.#context.clock.ms();
    const when = {
      startedAt: this.#context.clock.iso(start),
      endedAt: this.#context.clock.iso(end),
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
    this.#context.emit({
      type: "vm-done",
      step: step.name,
      batch: this.#context.batchLabel(),
      vm: result.vm,
      status,
      ms: end - start,
      error: message,
    });
    const screenshot = await this.#screenOnFailure(result.vm);
    return {
      vm: result.vm,
      status,
      ...when,
      error: message,
      ...(screenshot ? { screenshot } : {}),
    } as TargetRecord;
  }

  /** The screen of a VM with one, when a step failed on it: into its report folder. */
  async #screenOnFailure(name: string): Promise<string | undefined> {
    const dir = this.#context.report?.dir;
    const lab = this.#context.lab();
    if (!dir || !lab.names.includes(name)) return undefined;
    const vm = lab.vm(name);
    if (!vm.hasScreen || vm.exitStatus !== undefined) return undefined;
    try {
      const file = await reportFile(dir, name, await freshName(dir, name, "failed", "png"), "");
      await vm.screenshot(file.path, { timeout: 5_000 });
      return file.relative;
    } catch {
      return undefined; // A screen that cannot be read does not hide the failure itself.
    }
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
      ? lastLine(this.#context.lab().vm(vm))
      : `: ${error.detail}`;
    return `step '${step.name}' timed out after ${showDuration(timeout)} on ${vm}${detail}`;
  }

  /** `host 'h1' dropped: ` for a VM whose SSH host no longer answers. */
  async #hostNote(name: string): Promise<string> {
    const host = this.#context.lab().vm(name).host;
    return host && !await this.#context.lab().hostUp(host)
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
    owed: { held: unknown } | undefined,
  ): Promise<unknown> {
    this.#context.report?.qmp(vm.name, `-- step '${step.name}' (${step.action.kind})`);
    const since = this.#marks.get(vm.name)!.previous;
    return kind.run!(step.action, { // runTogether actions went their own way (see run)
      ...this.contextFor(vm, signal, timeout, since),
      hold: (value) => {
        if (owed) owed.held = value;
      },
      heal: (id) => this.#context.heal(vm.name, id),
    });
  }

  /** What an action gets on `vm` (a step's, or a probe's attempt, which holds and heals nothing). */
  contextFor(vm: Vm, signal: AbortSignal, timeout: number, since?: Marks): RunContext {
    const seed = this.#context.seed;
    const forwards = (name: string, port: number) => {
      const lab = this.#context.lab();
      const to = lab.names.includes(name) ? lab.vm(name).forwarded(port) : undefined;
      return to === undefined ? undefined : `127.0.0.1:${to}`;
    };
    return {
      vm,
      signal,
      timeout,
      since: since ?? { events: vm.mark(), console: consoleCursor(vm) },
      render: (template) => renderTemplate(template, vm.name, seed, forwards),
      renderValue: (value) => renderValue(value, vm.name, seed, forwards),
      lab: this.#context.labContext(),
      hold: () => {},
      heal: () => Promise.resolve(0),
    };
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

/** What an action's output says worth a line (how a stop went). */
function noteOf(output: unknown): string | undefined {
  const note = (output as { note?: unknown } | undefined)?.note;
  return typeof note === "string" ? note : undefined;
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
