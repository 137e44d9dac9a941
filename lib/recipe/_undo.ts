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
import type { ActionKind } from "./actions/action.ts";
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
}

/** The undos a scope owes. */
export class UndoScope {
  #owed: Owed[] = [];

  /** Owe an undo of `step` on `vm`; returns the entry, to be told the action's output. */
  owe(step: Step, path: string, kind: ActionKind, vm: Vm): { output: unknown } {
    const entry = { step, path, kind, vm, output: undefined };
    this.#owed.push(entry);
    return entry;
  }

  /** Whether anything is owed. */
  get pending(): boolean {
    return this.#owed.length > 0;
  }

  /**
   * Undo everything owed, newest step first (each step's VMs at once),
   * with a fresh deadline of the step's timeout; resolves to one record per step.
   */
  async heal(clock: RunClock, timeoutOf: (step: Step) => number): Promise<StepRecord[]> {
    const records: StepRecord[] = [];
    while (this.#owed.length > 0) {
      const last = this.#owed.at(-1)!;
      const group = this.#owed.filter((entry) => entry.step === last.step);
      this.#owed = this.#owed.filter((entry) => entry.step !== last.step);
      records.push(await healStep(group, clock, timeoutOf(last.step)));
    }
    return records;
  }
}

async function healStep(group: Owed[], clock: RunClock, timeout: number): Promise<StepRecord> {
  const { step, path, kind } = group[0]!;
  const startMs = clock.ms();
  const ends = new Map<string, number>();
  const results = await new Fleet(group.map((entry) => entry.vm)).run(async (vm, signal) => {
    const entry = group.find((owed) => owed.vm === vm)!;
    try {
      await kind.undo!(step.action, { vm, output: entry.output, signal, timeout });
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
