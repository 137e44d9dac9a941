/**
 * What the steps left that later steps and the metrics read: each step
 * id's outcome, output and times on each VM; `if:` conditions judged on
 * them; metrics measured from them.
 *
 * @module
 */

import type { MetricRecord, TargetRecord } from "./journal.ts";
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
  metrics(metrics: readonly Metric[]): MetricRecord[] {
    return metrics.map((metric) => {
      const values = this.#measure(metric);
      const record: MetricRecord = { name: metric.name, values };
      const spans = this.#spans(metric);
      if (spans) record.spans = spans;
      if (metric.max !== undefined) {
        record.max = metric.max;
        if (Object.keys(values).length > 0) {
          record.pass = Object.values(values).every((v) => v <= metric.max!);
        }
      }
      return record;
    });
  }

  /** The window a duration metric measured on each VM, for reports. */
  #spans(metric: Metric): Record<string, [number, number]> | undefined {
    if (metric.value) return undefined;
    const spans: Record<string, [number, number]> = {};
    const to = this.#times.get(metric.to.step);
    for (const [vm, a] of this.#times.get(metric.from.step) ?? []) {
      const b = to?.get(vm);
      if (b) spans[vm] = [a[metric.from.edge], b[metric.to.edge]];
    }
    return spans;
  }

  /** A metric's value on each VM where it could be measured, in ms. */
  #measure(metric: Metric): Record<string, number> {
    const values: Record<string, number> = {};
    const round = (ms: number) => Math.round(ms * 10) / 10;
    if (metric.value) {
      const { step, field } = metric.value;
      for (const [vm, output] of this.#outputs.get(step) ?? []) {
        const value = (output as Record<string, unknown> | undefined)?.[field];
        if (typeof value === "number" && Number.isFinite(value)) values[vm] = round(value);
      }
      return values;
    }
    const to = this.#times.get(metric.to.step);
    for (const [vm, a] of this.#times.get(metric.from.step) ?? []) {
      const b = to?.get(vm);
      if (b) values[vm] = round(b[metric.to.edge] - a[metric.from.edge]);
    }
    return values;
  }
}

function put<T>(map: Map<string, Map<string, T>>, id: string, vm: string, value: T): void {
  if (!map.has(id)) map.set(id, new Map());
  map.get(id)!.set(vm, value);
}
