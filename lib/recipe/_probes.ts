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
    const loops = targets.flatMap((vmName) => {
      const vm = this.#context.vm(vmName);
      if (!vm) return [];
      const record: ProbeRecord = { name, vm: vmName, attempts: [] };
      this.records.push(record);
      return [this.#loop(probe, vm, record, stop.signal)];
    });
    this.#running.set(name, { stop, loops });
  }

  /** Attempt after attempt, `every` apart, until stopped. */
  async #loop(probe: Probe, vm: Vm, record: ProbeRecord, stopped: AbortSignal): Promise<void> {
    const kind = actionKind(probe.action.kind)!;
    const { clock } = this.#context;
    while (!stopped.aborted) {
      const began = performance.now();
      const startMs = clock.ms();
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
        record.attempts.push({ startMs, endMs: clock.ms(), ok: true });
      } catch (error) {
        if (stopped.aborted) break; // cut short by the end, not failed
        const message = error instanceof Error ? error.message : String(error);
        record.attempts.push({ startMs, endMs: clock.ms(), ok: false, error: printable(message) });
      } finally {
        clearTimeout(timer);
      }
      const wait = probe.every - (performance.now() - began);
      if (wait > 0) await delay(wait, { signal: stopped }).catch(() => {});
    }
  }
}
