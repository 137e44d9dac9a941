/**
 * The run's invariants and console watch: every event a VM's QEMU sends is
 * checked as it is journaled (not polled), and every console line at the
 * end; a VM is "in a fault" from the first mutating step (a fault, a crash)
 * that targeted it, and rules with `outside: faults` leave it be from then.
 *
 * @module
 */

import type { QmpEvent } from "../qmp/journal.ts";
import type { Vm } from "../vm/vm.ts";
import { resolveSelector } from "../vm/select.ts";
import type { Violation } from "./journal.ts";
import { type Invariant, matchesPattern, type Recipe } from "./model.ts";
import type { RunEvent } from "./run_events.ts";

/** What the checks need of the run. */
export interface CheckContext {
  /** ms since the run started, of an event's epoch time. */
  offset(epochMs: number): number;
  /** The lab's members, for selectors. */
  members(): { name: string; groups: readonly string[] }[];
}

/** The invariants and the console watch of one run. */
export class Checks {
  #recipe: Recipe;
  #context: CheckContext;
  #faulted = new Set<string>();
  /** Each rule's VMs, resolved once: the lab does not change once it is up, events come often. */
  #members = new Map<Invariant, Set<string>>();
  readonly violations: Violation[] = [];

  constructor(recipe: Recipe, context: CheckContext) {
    this.#recipe = recipe;
    this.#context = context;
  }

  #closed = false;

  /** Whether there is anything to check. */
  get active(): boolean {
    return (this.#recipe.invariants?.length ?? 0) > 0 || this.#recipe.watch !== undefined;
  }

  /** Note which VMs a mutating step targeted. */
  listen(event: RunEvent): void {
    if (event.type === "step-start" && event.mutates) {
      for (const vm of event.targets) this.#faulted.add(vm);
    }
  }

  /** Check one event of `vm` against every invariant that holds on it. */
  event(vm: string, event: QmpEvent): void {
    if (this.#closed) return;
    for (const rule of this.#recipe.invariants ?? []) {
      if (!rule.never.includes(event.event)) continue;
      if (rule.outsideFaults && this.#faulted.has(vm)) continue;
      if (!this.#on(rule).has(vm)) continue;
      const { seconds, microseconds } = event.timestamp;
      this.violations.push({
        rule: rule.status ? `status ${rule.status}` : `never ${event.event}`,
        vm,
        ms: this.#context.offset(seconds * 1000 + microseconds / 1000),
        what: `${event.event}${event.data ? ` ${JSON.stringify(event.data)}` : ""}`,
      });
    }
  }

  /**
   * Check what each VM's console printed in the whole run (its logs), last:
   * the events after it are corral's own (stopping the lab), not the run's.
   */
  async consoles(vms: readonly Vm[]): Promise<void> {
    this.#closed = true;
    const watch = this.#recipe.watch;
    if (!watch) return;
    for (const vm of vms) {
      if (watch.outsideFaults && this.#faulted.has(vm.name)) continue;
      for (const log of vm.consoleLogs) {
        const text = await Deno.readTextFile(log).catch(() => "");
        for (const line of text.split("\n")) {
          if (!watch.fail.some((p) => matchesPattern(p, line))) continue;
          this.violations.push({ rule: "console", vm: vm.name, what: line.trim().slice(0, 300) });
        }
      }
    }
  }

  #on(rule: Invariant): Set<string> {
    let vms = this.#members.get(rule);
    if (!vms) {
      const members = this.#context.members();
      vms = new Set(
        rule.on.terms.flatMap((term) =>
          term.kind === "pattern" ? resolveSelector(term.text, members) : []
        ),
      );
      this.#members.set(rule, vms);
    }
    return vms;
  }
}
