/**
 * Undo: what the engine owes the VMs after an action with an `undo` hook
 * (a fault) started on them. Entries are kept per scope (the run's steps,
 * or one batch of a block) and healed newest first when the scope ends —
 * also when it ended by a failure, Ctrl-C or a deadline — each step's
 * undo becoming a step record of its own.
 *
 * @module
 */

import { printable } from "../_text.ts";
import { Fleet } from "../vm/fleet.ts";
import type { Vm } from "../vm/vm.ts";
import type { ActionKind, LabContext } from "./actions/action.ts";
import type { StepRecord, TargetRecord } from "./journal.ts";
import type { Step } from "./model.ts";
import type { RunClock } from "./report.ts";

/** One VM an action with an undo started on. */
interface Owed {
  step: Step;
  path: string;
  kind: ActionKind;
  vm: Vm;
  /** What the action returned; `undefined` while it runs, or when it failed. */
  output: unknown;
  /** What the action kept for its undo. */
  held: unknown;
}

/** What healing needs of the run. */
export interface Healing {
  clock: RunClock;
  /** The deadline of a step's undo: the step's own timeout. */
  timeoutOf(step: Step): number;
  lab(): LabContext;
  /** Tell the run about undo records as they are made. */
  publish(record: StepRecord): void;
}

/** The undos a scope owes. */
export class UndoScope {
  #owed: Owed[] = [];
  #healing: Healing;
  #timers = new Map<Step, ReturnType<typeof setTimeout>>();
  #running = new Set<Promise<void>>();

  constructor(healing: Healing) {
    this.#healing = healing;
  }

  /** Owe an undo of `step` on `vm`; returns the entry, to be told the action's output. */
  owe(
    step: Step,
    path: string,
    kind: ActionKind,
    vm: Vm,
  ): { output: unknown; held: unknown } {
    const entry = { step, path, kind, vm, output: undefined, held: undefined };
    this.#owed.push(entry);
    return entry;
  }

  /** Whether anything is owed (or being healed). */
  get pending(): boolean {
    return this.#owed.length > 0 || this.#running.size > 0;
  }

  /** Heal `step`'s faults after `ms` (its `duration`), while later steps run. */
  healLater(step: Step, ms: number): void {
    this.#timers.set(
      step,
      setTimeout(() => {
        this.#timers.delete(step);
        const healing = this.healWhere((entry) => entry.step === step).then(() => {});
        this.#running.add(healing);
        healing.finally(() => this.#running.delete(healing));
      }, ms),
    );
  }

  /**
   * Undo what is owed where `match` says (`heal:` steps), newest step first,
   * each step's VMs at once, with a fresh deadline of the step's timeout.
   */
  async healWhere(match: (entry: { step: Step; vm: Vm }) => boolean): Promise<number> {
    let healed = 0;
    for (;;) {
      const last = this.#owed.findLast(match);
      if (!last) return healed;
      const group = this.#owed.filter((entry) => entry.step === last.step && match(entry));
      this.#owed = this.#owed.filter((entry) => !group.includes(entry));
      const { clock, timeoutOf, lab, publish } = this.#healing;
      publish(await healStep(group, clock, timeoutOf(last.step), lab()));
      healed += group.length;
    }
  }

  /** Undo everything owed (the scope ends), and wait for heals already under way. */
  async healAll(): Promise<void> {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled(this.#running);
    await this.healWhere(() => true);
  }
}

/** The run's undo scopes: its steps', and each block batch's within them. */
export class UndoStack {
  #scopes: UndoScope[];
  #healing: Healing;

  constructor(healing: Healing) {
    this.#healing = healing;
    this.#scopes = [new UndoScope(healing)];
  }

  /** The run's own scope (healed before `finally`, and after it). */
  get root(): UndoScope {
    return this.#scopes[0]!;
  }

  /** The innermost scope, where a fault step owes its undo. */
  get current(): UndoScope {
    return this.#scopes.at(-1)!;
  }

  /** Run `run` in a scope of its own (a block's batch), healed when it ends, however. */
  async within(run: () => Promise<void>): Promise<void> {
    const scope = new UndoScope(this.#healing);
    this.#scopes.push(scope);
    try {
      await run();
    } finally {
      this.#scopes.pop();
      await scope.healAll(); // the block's faults end with it, before always
    }
  }

  /** `heal:` on one VM: undo the faults (of step `id`, or all) still on it, in every scope. */
  async healOn(vm: string, id: string | undefined): Promise<number> {
    let healed = 0;
    for (const scope of [...this.#scopes].reverse()) {
      healed += await scope.healWhere((entry) =>
        entry.vm.name === vm && (id === undefined || entry.step.id === id)
      );
    }
    return healed;
  }
}

async function healStep(
  group: Owed[],
  clock: RunClock,
  timeout: number,
  lab: LabContext,
): Promise<StepRecord> {
  const { step, path, kind } = group[0]!;
  const startMs = clock.ms();
  const ends = new Map<string, number>();
  const results = await new Fleet(group.map((entry) => entry.vm)).run(async (vm, signal) => {
    const entry = group.find((owed) => owed.vm === vm)!;
    try {
      const { output, held } = entry;
      await kind.undo!(step.action, { vm, output, held, lab, signal, timeout });
    } finally {
      ends.set(vm.name, clock.ms());
    }
  }, { timeout, concurrency: group.length });
  const targets = results.results.map((result): TargetRecord => {
    const endMs = ends.get(result.vm) ?? clock.ms();
    const when = { startedAt: clock.iso(startMs), endedAt: clock.iso(endMs), startMs, endMs };
    return result.status === "ok" ? { vm: result.vm, status: "ok", ...when } : {
      vm: result.vm,
      status: result.status === "timeout" ? "timeout" : "failed",
      ...when,
      error: `could not undo ${kind.key}: ${printable(result.error.message)}`,
    };
  });
  const endMs = clock.ms();
  return {
    name: `undo ${step.name}`,
    path: `${path}.undo`,
    action: kind.key,
    targets,
    startedAt: clock.iso(startMs),
    endedAt: clock.iso(endMs),
    startMs,
    endMs,
  };
}
