/**
 * Probes: checks run again and again on their VMs while the steps run —
 * each attempt an agent, console or qmp action, recorded with its time and
 * result — from when the steps start (or a step with the probe's `start`
 * id starts) until they end (or the step with its `end` id ends).
 * Availability and outage metrics are measured from the attempts.
 *
 * @module
 */

import { delay } from "../_async.ts";
import { TimeoutError } from "../errors.ts";
import { printable } from "../_text.ts";
import type { Vm } from "../vm/vm.ts";
import type { RunContext } from "./actions/action.ts";
import { actionKind } from "./actions/registry.ts";
import type { ProbeRecord } from "./journal.ts";
import type { Probe } from "./model.ts";
import type { Plan } from "./plan.ts";
import type { RunClock } from "./report.ts";
import type { RunEvent } from "./run_events.ts";

/** What probes need of the run. */
export interface ProbeContext {
  clock: RunClock;
  /** The VM named `name`, if it is up. */
  vm(name: string): Vm | undefined;
  /** What an action gets on a VM. */
  contextFor(vm: Vm, signal: AbortSignal, timeout: number): RunContext;
}

/** The run's probes. */
export class Probes {
  #planned: Plan["probes"];
  #context: ProbeContext;
  #running = new Map<string, { stop: AbortController; loops: Promise<void>[] }>();
  #stopped = new Set<string>();
  readonly records: ProbeRecord[] = [];

  constructor(planned: Plan["probes"], context: ProbeContext) {
    this.#planned = planned;
    this.#context = context;
  }

  /** Start the probes that start with the steps. */
  startWithSteps(): void {
    for (const { probe } of this.#planned) if (probe.start === undefined) this.#start(probe.name);
  }

  /** Start and stop probes at the steps their `start` and `end` name. */
  listen(event: RunEvent): void {
    if (event.type !== "step-start" && event.type !== "step-end") return;
    if (event.id === undefined) return;
    for (const { probe } of this.#planned) {
      if (event.type === "step-start" && probe.start === event.id) this.#start(probe.name);
      if (event.type === "step-end" && probe.end === event.id) void this.stop(probe.name);
    }
  }

  /** Stop every probe (the steps ended) and wait for their last attempts. */
  async stopAll(): Promise<void> {
    await Promise.all(this.#planned.map(({ probe }) => this.stop(probe.name)));
  }

  /** Stop one probe and wait for its last attempts. */
  async stop(name: string): Promise<void> {
    this.#stopped.add(name);
    const running = this.#running.get(name);
    if (!running) return;
    this.#running.delete(name);
    running.stop.abort();
    await Promise.allSettled(running.loops);
  }

  #start(name: string): void {
    if (this.#running.has(name) || this.#stopped.has(name)) return;
    const { probe, targets } = this.#planned.find((p) => p.probe.name === name)!;
    const stop = new AbortController();
    const vms = targets.flatMap((vmName) => this.#context.vm(vmName) ?? []);
    // A quorum probe is one service on all its VMs: one record, each attempt asks them all.
    const groups = probe.quorum ? (vms.length ? [vms] : []) : vms.map((vm) => [vm]);
    const loops = groups.map((group) => {
      const record: ProbeRecord = { name, vm: group.map((vm) => vm.name).join("+"), attempts: [] };
      this.records.push(record);
      return this.#loop(probe, group, record, stop.signal);
    });
    this.#running.set(name, { stop, loops });
  }

  /** Attempt after attempt, `every` apart, until stopped. */
  async #loop(
    probe: Probe,
    vms: readonly Vm[],
    record: ProbeRecord,
    stopped: AbortSignal,
  ): Promise<void> {
    const { clock } = this.#context;
    while (!stopped.aborted) {
      const began = performance.now();
      const startMs = clock.ms();
      const errors = await Promise.all(vms.map((vm) => this.#attempt(probe, vm, stopped)));
      if (stopped.aborted) break; // cut short by the end, not failed
      const error = verdictOf(probe, vms, errors);
      const endMs = clock.ms();
      record.attempts.push(
        error === undefined ? { startMs, endMs, ok: true } : { startMs, endMs, ok: false, error },
      );
      const wait = probe.every - (performance.now() - began);
      if (wait > 0) await delay(wait, { signal: stopped }).catch(() => {});
    }
  }

  /** One try of the probe's action on one VM: why it failed, or `undefined`. */
  async #attempt(probe: Probe, vm: Vm, stopped: AbortSignal): Promise<string | undefined> {
    const kind = actionKind(probe.action.kind)!;
    const attempt = new AbortController();
    const timer = setTimeout(
      () =>
        attempt.abort(
          new TimeoutError(`no answer within ${probe.timeout} ms`, {
            vm: vm.name,
            timeout: probe.timeout,
          }),
        ),
      probe.timeout,
    );
    const signal = AbortSignal.any([stopped, attempt.signal]);
    try {
      await kind.run!(probe.action, this.#context.contextFor(vm, signal, probe.timeout)); // agent, console, qmp
      return undefined;
    } catch (error) {
      return printable(error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Why an attempt failed on its VMs (their quorum not met), or `undefined` when it passed. */
function verdictOf(
  probe: Probe,
  vms: readonly Vm[],
  errors: readonly (string | undefined)[],
): string | undefined {
  if (!probe.quorum) return errors[0];
  const answered = errors.filter((e) => e === undefined).length;
  const need = probe.quorum === "any"
    ? 1
    : probe.quorum === "all"
    ? vms.length
    : Math.floor(vms.length / 2) + 1;
  if (answered >= need) return undefined;
  const why = vms.flatMap((vm, i) => errors[i] === undefined ? [] : [`${vm.name}: ${errors[i]}`]);
  return `${answered} of ${vms.length} answered (${probe.quorum} needs ${need}): ${why.join("; ")}`;
}
