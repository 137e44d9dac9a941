/**
 * The recipe reader's steps: each step's keys, its action (parsed by the
 * action's own file), its selector, retry, condition, batches and
 * tolerance; and the metrics that measure between steps.
 *
 * @module
 */

import { isMap, isScalar, isSeq, type Node } from "yaml";
import { didYouMean } from "../_suggest.ts";
import type { Entries } from "./actions/parse_tools.ts";
import { readPercent } from "./actions/options.ts";
import { ACTION_KEYS, actionKind, ACTIONS } from "./actions/registry.ts";
import type { ActionKind } from "./actions/action.ts";
import {
  type BatchSize,
  type Condition,
  type Edge,
  type Metric,
  type PickCount,
  type Pos,
  type Probe,
  type SelectorTerm,
  type Step,
  type StepSelector,
} from "./model.ts";
import { describe, YamlTools } from "./_yaml_tools.ts";

/** What a probe may do each time. */
const PROBE_ACTIONS = ["agent", "console", "qmp"];

const STEP_MODIFIERS = [
  "name",
  "id",
  "on",
  "timeout",
  "retry",
  "continue-on-error",
  "if",
  "serial",
  "max-failures",
  "rescue",
  "always",
  "duration",
  "loop",
];

/** The steps and metrics of a recipe. */
export class StepsReader extends YamlTools {
  protected stepIds = new Map<string, Pos>();
  protected stepNames = new Map<string, Pos>();
  protected idRefs: { id: string; pos: Pos }[] = [];
  /** Probes named by metrics, checked once all are read. */
  protected probeRefs: { name: string; pos: Pos }[] = [];
  steps(node: Node | null | undefined, where: string): Step[] {
    if (!isSeq(node)) {
      this.issue(node, `${where} must be a list of steps`);
      return [];
    }
    return (node.items as Node[]).flatMap((item) => this.stepsOf(item));
  }

  /** The steps a list item stands for: one here (an include or a loop: more, see ComposeReader). */
  protected stepsOf(item: Node): Step[] {
    const step = this.step(item);
    return step ? [step] : [];
  }

  /** A step's name as it is recorded (an included or looped step's: see ComposeReader). */
  protected stepName(written: string): string {
    return written;
  }

  protected step(node: Node): Step | undefined {
    const entries = this.map(node, "a step");
    if (!entries) return undefined;
    const pos = this.pos(node);
    const actionKeys = [...entries.keys()].filter((key) => ACTION_KEYS.includes(key));
    for (const [key, { key: keyNode }] of entries) {
      if (!ACTION_KEYS.includes(key) && !STEP_MODIFIERS.includes(key)) {
        this.issue(
          keyNode,
          `unknown key '${key}' in a step${didYouMean(key, [...ACTION_KEYS, ...STEP_MODIFIERS])}`,
        );
      }
    }
    const written = this.string(this.required(entries, "name", node), "name");
    const name = written === undefined ? undefined : this.stepName(written);
    if (name !== undefined) {
      const earlier = this.stepNames.get(name);
      if (earlier) {
        this.issue(
          entries.get("name")!.value,
          `step name '${name}' is already used at line ${earlier.line}`,
        );
      } else this.stepNames.set(name, pos);
    }
    const id = this.stepId(entries, pos);
    const on = this.selector(entries.get("on")?.value ?? null, pos);
    if (actionKeys.length !== 1) {
      this.issue(
        node,
        actionKeys.length === 0
          ? `step '${name ?? "?"}' has no action: give it one of ${ACTION_KEYS.join(", ")}`
          : `step '${name ?? "?"}' has ${actionKeys.length} actions (${
            actionKeys.join(", ")
          }): give it exactly one`,
      );
      return undefined;
    }
    const kind = actionKeys[0]!;
    const actionType = actionKind(kind)!;
    this.foreignKeys(entries, actionType);
    const action = actionType.parse(this, {
      node: entries.get(kind)!.value,
      step: entries,
      stepNode: node,
    });
    const step: Step = {
      name: name ?? "",
      on,
      continueOnError: entries.has("continue-on-error")
        ? this.bool(entries.get("continue-on-error")!.value, "continue-on-error") ?? false
        : false,
      action: action ?? { kind },
      mutates: action ? actionType.mutates(action) : false,
      pos,
    };
    if (id !== undefined) step.id = id;
    if (entries.has("timeout")) {
      step.timeout = this.duration(entries.get("timeout")!.value, "timeout");
    }
    if (entries.has("duration")) {
      const { key, value } = entries.get("duration")!;
      if (!actionType.undo) {
        this.issue(key, `duration goes with a fault (an action that heals by itself), not ${kind}`);
      } else step.duration = this.duration(value, "duration");
    }
    if (entries.has("retry")) step.retry = this.retry(entries.get("retry")!.value);
    if (entries.has("if")) step.if = this.condition(entries.get("if")!.value);
    if (entries.has("serial")) step.serial = this.batches(entries.get("serial")!.value);
    if (entries.has("max-failures")) {
      step.maxFailures = this.countOrPercent(
        entries.get("max-failures")!.value,
        "max-failures",
        true,
      );
    }
    return step;
  }

  /** A step's `id`: a name that starts with a letter, unique in the recipe. */
  protected stepId(entries: Entries, pos: Pos): string | undefined {
    if (!entries.has("id")) return undefined;
    const node = entries.get("id")!.value;
    const id = this.string(node, "id");
    if (id !== undefined && !/^[A-Za-z][\w-]*$/.test(id)) {
      this.issue(
        node,
        `id '${id}' must start with a letter and hold only letters, digits, '-' and '_'`,
      );
    } else if (id !== undefined && this.stepIds.has(id)) {
      this.issue(node, `id '${id}' is already used at line ${this.stepIds.get(id)!.line}`);
    } else if (id !== undefined) this.stepIds.set(id, pos);
    return id;
  }

  /** Step keys that belong to another action (`rescue` without a block). */
  protected foreignKeys(entries: Entries, kind: ActionKind): void {
    for (const other of ACTIONS) {
      const foreign = (other.stepKeys ?? []).filter((key) =>
        entries.has(key) && !kind.stepKeys?.includes(key)
      );
      if (foreign.length === 0) continue;
      const [first] = foreign as [string];
      const verb = foreign.length > 1 ? "go" : "goes";
      this.issue(entries.get(first)!.key, `${foreign.join(" and ")} ${verb} with a ${other.key}`);
    }
  }

  protected selector(node: Node | null, stepPos: Pos): StepSelector {
    if (node === null) {
      return { terms: [{ kind: "pattern", text: "all", pos: stepPos }], pos: stepPos };
    }
    const terms: SelectorTerm[] = [];
    for (const item of this.list(node)) {
      const pos = this.pos(item);
      if (isMap(item)) {
        const entries = this.map(item, "a pick")!;
        this.keys(entries, ["group", "pick"], "a pick");
        const group = this.string(this.required(entries, "group", item), "group");
        const pickNode = this.required(entries, "pick", item);
        const pick = this.value(pickNode);
        const count: PickCount | undefined =
          pick === "one" || pick === "minority" || pick === "majority"
            ? pick
            : typeof pick === "number" && Number.isInteger(pick) && pick > 0
            ? pick
            : this.issue(
              pickNode,
              `pick must be one, minority, majority or a positive number, not ${describe(pick)}`,
            );
        if (group !== undefined && count !== undefined) {
          this.checkTerm(group, item, true);
          terms.push({ kind: "pick", group, count, pos });
        }
        continue;
      }
      const raw = isScalar(item) ? String(item.value) : "";
      const targets = /^\$\{\{\s*steps\.([\w-]+)\.targets\s*\}\}$/.exec(raw);
      if (targets) {
        this.idRefs.push({ id: targets[1]!, pos });
        terms.push({ kind: "targets", step: targets[1]!, pos });
        continue;
      }
      const text = this.string(item, "on");
      if (text === undefined) continue;
      for (const part of text.split(":")) this.checkTerm(part.replace(/^[!&]/, ""), item, false);
      terms.push({ kind: "pattern", text, pos });
    }
    return { terms, pos: this.pos(node) };
  }

  protected checkTerm(term: string, node: Node, groupOnly: boolean): void {
    if (term === "all" || /[*?[]/.test(term)) return;
    const names = this.inventory.map((vm) => vm.name);
    const groups = this.inventory.flatMap((vm) => vm.groups);
    if (groups.includes(term) || (!groupOnly && names.includes(term))) return;
    const known = groupOnly ? [...groups, "all"] : [...names, ...groups, "all"];
    this.issue(
      node,
      `'${term}' is not ${groupOnly ? "a group" : "a VM or a group"} of this recipe${
        didYouMean(term, known)
      }`,
    );
  }

  protected retry(node: Node | null): Step["retry"] {
    const options = this.map(node, "retry");
    if (!options) return undefined;
    this.keys(options, ["attempts", "interval", "until"], "retry");
    const attempts = this.positiveInt(this.required(options, "attempts", node), "attempts") ?? 1;
    const interval = options.has("interval")
      ? this.duration(options.get("interval")!.value, "interval") ?? 1000
      : 1000;
    const retry: NonNullable<Step["retry"]> = { attempts, interval };
    if (options.has("until")) retry.until = this.json(options.get("until")!.value, "until");
    return retry;
  }

  protected condition(node: Node | null): Condition | undefined {
    const options = this.map(node, "if");
    if (!options) return undefined;
    const kinds = ["var", "step", "failed", "all", "any", "not"];
    this.keys(options, [...kinds, "equals", "not-equals", "outcome"], "if");
    const kind = kinds.filter((k) => options.has(k));
    if (kind.length !== 1) {
      return this.issue(node, `a condition takes exactly one of ${kinds.join(", ")}`);
    }
    const value = options.get(kind[0]!)!.value;
    switch (kind[0]) {
      case "var": {
        const name = this.string(value, "var");
        if (name === undefined) return undefined;
        if (!(name in this.vars)) {
          this.issue(
            value,
            `unknown variable '${name}'${didYouMean(name, Object.keys(this.vars))}`,
          );
        }
        const condition: Condition = { var: name };
        if (options.has("equals")) condition.equals = this.value(options.get("equals")!.value);
        if (options.has("not-equals")) {
          condition.notEquals = this.value(options.get("not-equals")!.value);
        }
        return condition;
      }
      case "step": {
        const id = this.string(value, "step");
        const outcomeNode = this.required(options, "outcome", node);
        const outcome = this.value(outcomeNode);
        if (id !== undefined) this.idRefs.push({ id, pos: this.pos(value) });
        if (outcome !== "ok" && outcome !== "failed" && outcome !== "skipped") {
          return this.issue(outcomeNode, "outcome must be ok, failed or skipped");
        }
        return id === undefined ? undefined : { step: id, outcome };
      }
      case "failed": {
        const failed = this.bool(value, "failed");
        return failed === undefined ? undefined : { failed };
      }
      case "not": {
        const inner = this.condition(value);
        return inner ? { not: inner } : undefined;
      }
      default: {
        const items = this.list(value).map((item) => this.condition(item));
        if (!items.every((item) => item !== undefined)) return undefined;
        return kind[0] === "all" ? { all: items as Condition[] } : { any: items as Condition[] };
      }
    }
  }

  protected batches(node: Node | null): BatchSize[] | undefined {
    const sizes = this.list(node).map((item) => this.countOrPercent(item, "serial", false));
    return sizes.every((size) => size !== undefined) && sizes.length > 0
      ? sizes as BatchSize[]
      : undefined;
  }

  protected countOrPercent(
    node: Node | null,
    what: string,
    zeroOk: boolean,
  ): { count: number } | { percent: number } | undefined {
    const value = this.value(node);
    if (
      typeof value === "number" && Number.isInteger(value) && (value > 0 || (zeroOk && value === 0))
    ) return { count: value };
    const percent = typeof value === "string" ? /^(\d+(?:\.\d+)?)%$/.exec(value) : null;
    if (percent && Number(percent[1]) <= 100 && (zeroOk || Number(percent[1]) > 0)) {
      return { percent: Number(percent[1]) };
    }
    return this.issue(
      node,
      `${what} must be a ${zeroOk ? "" : "positive "}whole number or a percentage like "25%", not ${
        describe(value)
      }`,
    );
  }

  /**
   * `probes: { NAME: { on, every, timeout, agent | console | qmp: …, start, end } }`:
   * checks run again and again while the steps run.
   */
  protected probes(node: Node | null): Probe[] {
    const probes: Probe[] = [];
    for (const [name, { value }] of this.map(node, "probes", true) ?? []) {
      const where = `probes.${name}`;
      const options = this.map(value, where);
      if (!options) continue;
      const kinds = PROBE_ACTIONS.filter((key) => options.has(key));
      this.keys(options, [
        ...PROBE_ACTIONS,
        "on",
        "every",
        "timeout",
        "start",
        "end",
        "quorum",
      ], where);
      if (kinds.length !== 1) {
        this.issue(value, `${where} takes exactly one of ${PROBE_ACTIONS.join(", ")}`);
        continue;
      }
      const kind = kinds[0]!;
      const action = actionKind(kind)!.parse(this, {
        node: options.get(kind)!.value,
        step: options,
        stepNode: value!,
      });
      const every = this.duration(this.required(options, "every", value), "every");
      const pos = this.pos(value);
      if (!action || every === undefined) continue;
      const timeout = options.has("timeout")
        ? this.duration(options.get("timeout")!.value, "timeout") ?? every
        : every;
      const probe: Probe = {
        name,
        on: this.selector(options.get("on")?.value ?? null, pos),
        every,
        timeout,
        action,
        pos,
      };
      if (options.has("quorum")) {
        const node = options.get("quorum")!.value;
        const quorum = this.string(node, "quorum");
        if (quorum === "any" || quorum === "majority" || quorum === "all") probe.quorum = quorum;
        else if (quorum !== undefined) {
          this.issue(node, `quorum must be any, majority or all, not '${quorum}'`);
        }
      }
      for (const edge of ["start", "end"] as const) {
        const id = options.has(edge) ? this.string(options.get(edge)!.value, edge) : undefined;
        if (id === undefined) continue;
        probe[edge] = id;
        this.idRefs.push({ id, pos: this.pos(options.get(edge)!.value) });
      }
      probes.push(probe);
    }
    return probes;
  }

  protected metrics(node: Node | null): Metric[] {
    const entries = this.map(node, "metrics", true);
    const metrics: Metric[] = [];
    for (const [name, { value }] of entries ?? []) {
      const options = this.map(value, `metrics.${name}`);
      if (!options) continue;
      this.keys(
        options,
        ["from", "to", "value", "max", "probe", "availability", "outage"],
        `metrics.${name}`,
      );
      if (options.has("probe")) {
        const metric = this.probeMetric(name, options, value);
        if (metric) metrics.push(metric);
        continue;
      }
      const max = options.has("max") ? this.duration(options.get("max")!.value, "max") : undefined;
      const measured = this.measured(options, value);
      if (measured) {
        const metric: Metric = { name, ...measured, pos: this.pos(value) };
        if (max !== undefined) metric.max = max;
        metrics.push(metric);
      }
    }
    return metrics;
  }

  /** `{ probe: NAME, availability: { min: 99% } }` or `{ probe: NAME, outage: { max: 5s } }`. */
  protected probeMetric(name: string, options: Entries, node: Node | null): Metric | undefined {
    const probe = this.string(options.get("probe")!.value, "probe");
    const measures = (["availability", "outage"] as const).filter((m) => options.has(m));
    if (probe === undefined) return undefined;
    if (measures.length !== 1) {
      return this.issue(node, `metrics.${name} takes availability or outage with its probe`);
    }
    const measure = measures[0]!;
    this.probeRefs.push({ name: probe, pos: this.pos(options.get("probe")!.value) });
    const bound = this.map(options.get(measure)!.value, `metrics.${name}.${measure}`, true);
    const metric: Metric = { name, probe: { name: probe, measure }, pos: this.pos(node) };
    if (measure === "availability") {
      if (bound) this.keys(bound, ["min"], `metrics.${name}.availability`);
      const min = bound?.get("min")?.value;
      if (min !== undefined) metric.min = readPercent(this, min, "min");
    } else {
      if (bound) this.keys(bound, ["max"], `metrics.${name}.outage`);
      const max = bound?.get("max")?.value;
      if (max !== undefined) metric.max = this.duration(max, "max");
    }
    return metric;
  }

  /** What a metric measures: `value: STEP_ID.FIELD`, or `from` and `to` boundaries. */
  protected measured(
    options: Entries,
    node: Node | null,
  ): { from: Edge; to: Edge } | { value: { step: string; field: string } } | undefined {
    const valueNode = options.get("value")?.value;
    if (valueNode === undefined) {
      const from = this.edge(this.required(options, "from", node), "from");
      const to = this.edge(this.required(options, "to", node), "to");
      return from && to ? { from, to } : undefined;
    }
    if (options.has("from") || options.has("to")) {
      return this.issue(valueNode, "a metric takes either value or from and to, not both");
    }
    const text = this.string(valueNode, "value");
    if (text === undefined) return undefined;
    const match = /^([A-Za-z][\w-]*)\.([A-Za-z][\w-]*)$/.exec(text);
    if (!match) {
      return this.issue(
        valueNode,
        `value must name STEP_ID.FIELD, a number of ms in the step's output (e.g. evacuate.downtimeMs), not '${text}'`,
      );
    }
    this.idRefs.push({ id: match[1]!, pos: this.pos(valueNode) });
    return { value: { step: match[1]!, field: match[2]! } };
  }

  protected edge(node: Node | null | undefined, what: string): Edge | undefined {
    const text = this.string(node, what);
    if (text === undefined) return undefined;
    const match = /^([A-Za-z][\w-]*)\.(start|end)$/.exec(text);
    if (!match) {
      return this.issue(node, `${what} must name STEP_ID.start or STEP_ID.end, not '${text}'`);
    }
    this.idRefs.push({ id: match[1]!, pos: this.pos(node) });
    return { step: match[1]!, edge: match[2] as "start" | "end" };
  }
}
