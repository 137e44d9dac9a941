/**
 * Every QMP event of the run's VMs into the report's `events.jsonl`, on
 * the run's clock; a VM started again is watched from where its last watch
 * stopped, so no event is recorded twice or lost.
 *
 * @module
 */

import type { QmpEvent } from "../qmp/journal.ts";
import type { Vm } from "../vm/vm.ts";
import type { RunClock } from "./report.ts";
import type { ReportDir } from "./report_dir.ts";

/** The watches of a run's VMs. */
export class EventRecorder {
  #report: ReportDir | undefined;
  #clock: RunClock;
  #watchers: Promise<void>[] = [];
  #stop = new AbortController();
  #logged = new Map<string, number>();

  #checks: { event(vm: string, event: QmpEvent): void } | undefined;

  /** Events go to the report and to `checks` (the invariants), when there is either. */
  constructor(
    report: ReportDir | undefined,
    clock: RunClock,
    checks?: { event(vm: string, event: QmpEvent): void },
  ) {
    this.#report = report;
    this.#clock = clock;
    this.#checks = checks;
  }

  /** Record `vm`'s events, from where its last watch stopped. */
  watch(vm: Vm): void {
    const report = this.#report;
    const checks = this.#checks;
    if (!report && !checks) return;
    this.#watchers.push((async () => {
      try {
        const since = this.#logged.get(vm.name) ?? 0;
        for await (const event of vm.events(undefined, { since, signal: this.#stop.signal })) {
          this.#logged.set(vm.name, event.seq);
          checks?.event(vm.name, event);
          const { seconds, microseconds } = event.timestamp;
          report?.event({
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

  /** Stop every watch; resolves once each has recorded what it had. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#watchers);
  }
}
