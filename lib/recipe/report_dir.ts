/**
 * A run's report directory: it is made (empty, or emptied with `force`),
 * every registered output is opened in it, and what the run reports is
 * stamped, masked and sent to each of them.
 *
 * @module
 */

import { ReportDirError, type RunClock } from "./report.ts";
import type { RunJournal } from "./journal.ts";
import type { RunEvent } from "./run_events.ts";
import type { Redactor } from "./secrets.ts";
import type { Reporter, ReporterEvent, ReporterKind } from "./reporters/reporter.ts";
import { REPORTERS } from "./reporters/registry.ts";

/** Options of {@linkcode ReportDir.open}. */
export interface ReportDirOptions {
  /** Masks secrets in everything written. */
  redact: Redactor;
  /** The run's clock. */
  clock: RunClock;
  /** Empty a directory that is not empty (else it is refused). */
  force?: boolean | undefined;
  /** The outputs to write. Default: every registered one. */
  reporters?: readonly ReporterKind[] | undefined;
}

/** The report of one run, fanned out to its outputs. */
export class ReportDir {
  /** The report directory. */
  readonly dir: string;
  #redact: Redactor;
  #clock: RunClock;
  #reporters: Reporter[];

  private constructor(dir: string, options: ReportDirOptions, reporters: Reporter[]) {
    this.dir = dir;
    this.#redact = options.redact;
    this.#clock = options.clock;
    this.#reporters = reporters;
  }

  /**
   * Create `dir` (and its `vms/` folder) and open every output.
   *
   * @throws {ReportDirError} `dir` holds files and `force` was not given:
   *   files of an earlier run would mix with this one's.
   */
  static async open(dir: string, options: ReportDirOptions): Promise<ReportDir> {
    const existing = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
    if (existing.length > 0) {
      if (!options.force) {
        throw new ReportDirError(
          `the report directory ${dir} is not empty: name a new one, or add --force to empty it first`,
        );
      }
      for (const entry of existing) await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
    }
    await Deno.mkdir(`${dir}/vms`, { recursive: true });
    const reporters: Reporter[] = [];
    for (const kind of options.reporters ?? REPORTERS) reporters.push(await kind.open(dir));
    return new ReportDir(dir, options, reporters);
  }

  /** The run's events that `events.jsonl` records: the run's start, each step's start and end. */
  listen(event: RunEvent): void {
    if (event.type === "run-start") {
      this.event({ type: "run-start", recipe: event.recipe, seed: event.seed });
    } else if (event.type === "step-start") {
      const { step, path, targets, ms } = event;
      this.event({ type: "step-start", step, path, targets, ms });
    } else if (event.type === "step-end") {
      const { step, path, targets, ms } = event;
      this.event({ type: "step-end", step, path, ms, targets });
    } else if (event.type === "undone") {
      const { name: step, path, startMs, endMs, targets } = event.record;
      this.event({ type: "step-start", step, path, targets: [], ms: startMs });
      this.event({ type: "step-end", step, path, ms: endMs, targets });
    }
  }

  /** One record of `events.jsonl`, stamped with `time` (ISO) and `ms` unless it has them. */
  event(record: Record<string, unknown>): void {
    const ms = typeof record.ms === "number" ? record.ms : this.#clock.ms();
    const stamped = this.#redact.value({ time: this.#clock.iso(ms), ms, ...record });
    this.#send({
      type: "record",
      record: stamped as typeof stamped & { time: string; ms: number },
    });
  }

  /** One line of the VM's QMP log: time, offset, text. */
  qmp(vm: string, line: string): void {
    const ms = this.#clock.ms();
    const text = `${this.#clock.iso(ms)} +${ms.toFixed(1)}ms ${this.#redact.text(line)}`;
    this.#send({ type: "qmp", vm, line: text });
  }

  /** The VM's console logs (its earlier QEMUs' first), joined. */
  async console(vm: string, sources: readonly string[]): Promise<void> {
    const texts = await Promise.all(sources.map((f) => Deno.readTextFile(f).catch(() => "")));
    this.#send({ type: "console", vm, text: this.#redact.text(texts.join("")) });
  }

  /** The run ended: every output finishes, in the registry's order. */
  async finish(journal: RunJournal): Promise<void> {
    for (const reporter of this.#reporters) await reporter.finish(journal);
  }

  #send(event: ReporterEvent): void {
    for (const reporter of this.#reporters) reporter.on(event);
  }
}
