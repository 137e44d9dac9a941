/**
 * What the steps left that later steps and the metrics read: each step
 * id's outcome, output and times on each VM; `if:` conditions judged on
 * them; metrics measured from them.
 *
 * @module
 */

import type { MetricRecord, ProbeAttempt, ProbeRecord, TargetRecord } from "./journal.ts";
import type { Condition, Metric } from "./model.ts";

/** The outcomes of the steps that have an id, per VM. */
export class Outcomes {
  #status = new Map<string, Map<string, TargetRecord["status"]>>();
  #times = new Map<string, Map<string, { start: number; end: number }>>();
  #outputs = new Map<string, Map<string, unknown>>();

  /** Remember how step `id` went on a VM. */
  record(id: string | undefined, target: TargetRecord): void {
    if (!id) return;
    put(this.#status, id, target.vm, target.status);
    if (target.status === "ok" && target.output !== undefined) {
      put(this.#outputs, id, target.vm, target.output);
    }
    if (target.startMs !== undefined && target.endMs !== undefined) {
      put(this.#times, id, target.vm, { start: target.startMs, end: target.endMs });
    }
  }

  /**
   * Whether `condition` holds on `vm`, given the recipe's vars and whether
   * any VM has failed.
   */
  holds(
    condition: Condition,
    vm: string,
    context: { vars: Record<string, unknown>; anyFailed: boolean },
  ): boolean {
    if ("var" in condition) {
      const value = context.vars[condition.var];
      if ("equals" in condition && condition.equals !== undefined) {
        return value === condition.equals;
      }
      if ("notEquals" in condition && condition.notEquals !== undefined) {
        return value !== condition.notEquals;
      }
      return Boolean(value);
    }
    if ("step" in condition) {
      const outcome = this.#status.get(condition.step)?.get(vm) ?? "skipped";
      const simple = outcome === "ok" ? "ok" : outcome === "skipped" ? "skipped" : "failed";
      return simple === condition.outcome;
    }
    if ("failed" in condition) return context.anyFailed === condition.failed;
    if ("all" in condition) return condition.all.every((c) => this.holds(c, vm, context));
    if ("any" in condition) return condition.any.some((c) => this.holds(c, vm, context));
    return !this.holds(condition.not, vm, context);
  }

  /** Every metric's values (and spans, and whether within its bound). */
  metrics(metrics: readonly Metric[], probes: readonly ProbeRecord[] = []): MetricRecord[] {
    return metrics.map((metric) => {
      const { values, spans } = metric.probe
        ? probeMeasure(metric.probe.measure, probes.filter((p) => p.name === metric.probe!.name))
        : { values: this.#measure(metric), spans: this.#spans(metric) };
      const record: MetricRecord = { name: metric.name, values };
      if (spans) record.spans = spans;
      const measured = Object.values(values);
      if (metric.probe?.measure === "availability") record.unit = "%";
      if (metric.min !== undefined) {
        record.min = metric.min;
        if (measured.length > 0) record.pass = measured.every((v) => v >= metric.min!);
      }
      if (metric.max !== undefined) {
        record.max = metric.max;
        if (measured.length > 0) record.pass = measured.every((v) => v <= metric.max!);
      }
      return record;
    });
  }

  /** The window a duration metric measured on each VM, for reports. */
  #spans(metric: Metric): Record<string, [number, number]> | undefined {
    if (!metric.from || !metric.to) return undefined;
    const { from, to } = metric;
    const spans: Record<string, [number, number]> = {};
    const ends = this.#times.get(to.step);
    for (const [vm, a] of this.#times.get(from.step) ?? []) {
      const b = ends?.get(vm);
      if (b) spans[vm] = [a[from.edge], b[to.edge]];
    }
    return spans;
  }

  /** A metric's value on each VM where it could be measured, in ms. */
  #measure(metric: Metric): Record<string, number> {
    const values: Record<string, number> = {};
    if (metric.value) {
      const { step, field } = metric.value;
      for (const [vm, output] of this.#outputs.get(step) ?? []) {
        const value = (output as Record<string, unknown> | undefined)?.[field];
        if (typeof value === "number" && Number.isFinite(value)) values[vm] = round(value);
      }
      return values;
    }
    const { from, to } = metric;
    if (!from || !to) return values;
    const ends = this.#times.get(to.step);
    for (const [vm, a] of this.#times.get(from.step) ?? []) {
      const b = ends?.get(vm);
      if (b) values[vm] = round(b[to.edge] - a[from.edge]);
    }
    return values;
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * A probe's availability on each VM (the share of attempts that passed, in
 * %) or its outage (the longest run of failed attempts, from the first
 * failure to the next pass, in ms, with its window).
 */
function probeMeasure(
  measure: "availability" | "outage",
  records: readonly ProbeRecord[],
): { values: Record<string, number>; spans?: Record<string, [number, number]> } {
  const values: Record<string, number> = {};
  const spans: Record<string, [number, number]> = {};
  for (const { vm, attempts } of records) {
    if (attempts.length === 0) continue;
    if (measure === "availability") {
      values[vm] = round((100 * attempts.filter((a) => a.ok).length) / attempts.length);
      continue;
    }
    const worst = longestOutage(attempts);
    values[vm] = round(worst ? worst[1] - worst[0] : 0);
    if (worst) spans[vm] = worst;
  }
  return measure === "outage" ? { values, spans } : { values };
}

/** The longest run of failed attempts: from its first failure to the next pass (or its last end). */
function longestOutage(attempts: readonly ProbeAttempt[]): [number, number] | undefined {
  let worst: [number, number] | undefined;
  let start: number | undefined;
  for (const [i, attempt] of attempts.entries()) {
    if (!attempt.ok) start ??= attempt.startMs;
    const last = i === attempts.length - 1;
    if (start !== undefined && (attempt.ok || last)) {
      const end = attempt.ok ? attempt.startMs : attempt.endMs;
      if (!worst || end - start > worst[1] - worst[0]) worst = [start, end];
      start = undefined;
    }
  }
  return worst;
}

function put<T>(map: Map<string, Map<string, T>>, id: string, vm: string, value: T): void {
  if (!map.has(id)) map.set(id, new Map());
  map.get(id)!.set(vm, value);
}
