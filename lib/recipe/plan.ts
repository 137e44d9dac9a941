/**
 * Planning a recipe: every step's targets (picks drawn from the run's
 * seed), batches, and whether it changes anything. Planning touches no VM,
 * so `plan` shows exactly what `run` will do.
 *
 * @module
 */

import { attachKindOf } from "../host/registry.ts";
import { unsafeUniformIntDistribution, xoroshiro128plus } from "pure-rand";
import { resolveSelector, SelectorError } from "../vm/select.ts";
import { didYouMean } from "../_suggest.ts";
import { defaultAccel } from "../vm/launch.ts";
import { launchedDiskIds } from "../vm/spec.ts";
import {
  type BatchSize,
  type InventoryVm,
  type PickCount,
  type Probe,
  type Recipe,
  showPos,
  type Step,
} from "./model.ts";
import { actionKind } from "./actions/registry.ts";
import { isBlock } from "./actions/block.ts";
import { RecipeError } from "./parse.ts";
import { showDuration } from "./duration.ts";
import { planCheckpoints } from "./_resume.ts";
import { meets, UNMET } from "./_fit.ts";

/** A step with its resolved targets, and its children for a block. */
export interface PlannedStep {
  /** The step. */
  step: Step;
  /** Where the step sits: `steps[2]`, `steps[2].rescue[0]`, `finally[0]`. */
  path: string;
  /** The VMs it acts on. */
  targets: string[];
  /** For a block with `serial`: the batches, in order. */
  batches?: string[][];
  /** For a block: its steps, rescue and always, planned. */
  block?: { steps: PlannedStep[]; rescue: PlannedStep[]; always: PlannedStep[] };
  /** Why the step does not run at all (`--start-at`). */
  skip?: string;
}

/** A recipe with every target resolved. */
export interface Plan {
  /** The recipe. */
  recipe: Recipe;
  /** The seed the picks were drawn from. */
  seed: number;
  /** The steps, planned. */
  steps: PlannedStep[];
  /** The cleanup steps, planned. */
  finally: PlannedStep[];
  /** The probes, with the VMs each runs on. */
  probes: { probe: Probe; targets: string[] }[];
  /** The VMs the run brings up: all, or those `--limit` keeps. */
  vms: string[];
  /** The `--limit` selector, if any. */
  limit?: string;
  /** The `--start-at` step, if any. */
  startAt?: string;
  /** The checkpoint the run resumes from (`--resume-from`), if any. */
  resumeFrom?: string;
}

/** Options of {@linkcode planRecipe}: Ansible-like run control. */
export interface PlanOptions {
  /** Only these VMs (a selector): the others are neither brought up nor acted on. */
  limit?: string | undefined;
  /** Skip the steps before the step of this name (finally still runs). */
  startAt?: string | undefined;
  /** Skip every step up to the `checkpoint: NAME` step: the lab starts from that checkpoint. */
  resumeFrom?: string | undefined;
}

/**
 * Resolve every step's targets for `seed`, and check what needs them: a
 * pick larger than its group, a `steps.ID.targets` used before step ID,
 * an action a target VM cannot take (console on a VM without one; start,
 * stop or kill on an attached VM).
 *
 * @throws {RecipeError} Every such problem, each at its line.
 */
export function planRecipe(recipe: Recipe, seed: number, options: PlanOptions = {}): Plan {
  const planner = new Planner(recipe, seed);
  const steps = recipe.steps.map((step, i) => planner.step(step, `steps[${i}]`, undefined));
  const cleanup = recipe.finally.map((step, i) => planner.step(step, `finally[${i}]`, undefined));
  // A probe's targets and checks are a step's: what it does must fit the VMs it runs on.
  const probes = (recipe.probes ?? []).map((probe) => ({
    probe,
    targets: planner.step(probeStep(probe), `probes.${probe.name}`, undefined).targets,
  }));
  const where = { file: recipe.file, line: 1, col: 1 };
  let vms = recipe.inventory.map((vm) => vm.name);
  if (options.limit !== undefined) {
    try {
      const kept = new Set(resolveSelector(options.limit, recipe.inventory));
      vms = vms.filter((name) => kept.has(name));
      for (const planned of [...steps, ...cleanup]) limitTo(planned, kept);
      for (const planned of probes) planned.targets = planned.targets.filter((vm) => kept.has(vm));
    } catch (error) {
      if (!(error instanceof SelectorError)) throw error;
      planner.issues.push({ pos: where, message: `--limit ${options.limit}: ${error.message}` });
    }
  }
  if (options.startAt !== undefined && !skipUntil(steps, options.startAt)) {
    const names = flatten(steps).map((planned) => planned.step.name);
    planner.issues.push({
      pos: where,
      message: `--start-at ${JSON.stringify(options.startAt)}: no step has that name` +
        didYouMean(options.startAt, names),
    });
  }
  planner.issues.push(...planCheckpoints(steps, cleanup, options.resumeFrom, where));
  if (planner.issues.length > 0) throw new RecipeError(planner.issues);
  const plan: Plan = { recipe, seed, steps, finally: cleanup, vms, probes };
  if (options.resumeFrom !== undefined) plan.resumeFrom = options.resumeFrom;
  if (options.limit !== undefined) plan.limit = options.limit;
  if (options.startAt !== undefined) plan.startAt = options.startAt;
  return plan;
}

/** Every planned step, blocks' children included, in order. */
function flatten(steps: readonly PlannedStep[]): PlannedStep[] {
  return steps.flatMap((planned) =>
    planned.block
      ? [
        planned,
        ...flatten([...planned.block.steps, ...planned.block.rescue, ...planned.block.always]),
      ]
      : [planned]
  );
}

function limitTo(planned: PlannedStep, kept: Set<string>): void {
  planned.targets = planned.targets.filter((name) => kept.has(name));
  planned.batches = planned.batches?.map((batch) => batch.filter((name) => kept.has(name)));
  for (
    const child of planned.block
      ? flatten([...planned.block.steps, ...planned.block.rescue, ...planned.block.always])
      : []
  ) {
    child.targets = child.targets.filter((name) => kept.has(name));
  }
}

/**
 * Mark the steps before the one named `name` as skipped (a block that holds
 * it runs from there); false when no step has that name.
 */
function skipUntil(steps: readonly PlannedStep[], name: string): boolean {
  for (const planned of steps) {
    if (planned.step.name === name) return true;
    if (planned.block && skipUntil(planned.block.steps, name)) return true;
    planned.skip = "before --start-at";
  }
  return false;
}

/** A fresh random seed: 32 bits. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

class Planner {
  issues: { pos: Step["pos"]; message: string }[] = [];
  #recipe: Recipe;
  #seed: number;
  #byId = new Map<string, string[]>();

  constructor(recipe: Recipe, seed: number) {
    this.#recipe = recipe;
    this.#seed = seed;
  }

  step(step: Step, path: string, within: string[] | undefined): PlannedStep {
    let targets = this.#resolve(step, path);
    if (within) targets = targets.filter((name) => within.includes(name));
    this.#checkCapable(step, targets);
    if (step.id) this.#byId.set(step.id, targets);
    const planned: PlannedStep = { step, path, targets };
    if (isBlock(step.action)) {
      const action = step.action;
      planned.block = {
        steps: action.steps.map((child, i) => this.step(child, `${path}.block[${i}]`, targets)),
        rescue: action.rescue.map((child, i) => this.step(child, `${path}.rescue[${i}]`, targets)),
        always: action.always.map((child, i) => this.step(child, `${path}.always[${i}]`, targets)),
      };
      if (step.serial) planned.batches = batches(targets, step.serial);
    }
    return planned;
  }

  /** A migrate step's targets must be movable: not on lab networks, disks only on their host. */
  #checkMovable(step: Step, targets: string[]): void {
    if (step.action.kind !== "migrate") return;
    const { host: to, copyStorage } = step.action as { host?: string; copyStorage?: boolean };
    for (const vm of this.#recipe.inventory.filter((vm) => targets.includes(vm.name))) {
      const why = vm.networks.length > 0
        ? "is on lab networks (its tap devices cannot be handed over yet)"
        : to !== undefined && to !== vm.spec?.host && !copyStorage && vm.spec &&
            launchedDiskIds(vm.spec).length
        ? `has disks, which stay on its host: give it copy-storage: true to copy them to '${to}'`
        : undefined;
      if (why) {
        this.issues.push({
          pos: step.pos,
          message: `step '${step.name}': migrate cannot move ${vm.name}, which ${why}`,
        });
      }
    }
  }

  #checkCapable(step: Step, targets: string[]): void {
    this.#checkMovable(step, targets);
    this.#checkFit(step, targets);
    const needs = actionKind(step.action.kind)?.requires?.(step.action);
    if (!needs) return;
    const unable = this.#recipe.inventory.filter((vm) =>
      targets.includes(vm.name) && !meets(vm, needs)
    );
    if (unable.length === 0) return;
    this.issues.push({
      pos: step.pos,
      message: `step '${step.name}': ${step.action.kind} cannot run on ${
        unable.map((vm) => vm.name).join(", ")
      }, which ${UNMET[needs]}`,
    });
  }

  /** The action's own word on each target (`unfit`): a fault on a VM that cannot take it. */
  #checkFit(step: Step, targets: string[]): void {
    const kind = actionKind(step.action.kind);
    if (!kind?.unfit) return;
    for (const vm of this.#recipe.inventory.filter((vm) => targets.includes(vm.name))) {
      const why = kind.unfit(step.action, vm, this.#recipe);
      if (why) {
        this.issues.push({
          pos: step.pos,
          message: `step '${step.name}': ${step.action.kind} cannot run on ${vm.name}: ${why}`,
        });
      }
    }
  }

  #resolve(step: Step, path: string): string[] {
    const inventory = this.#recipe.inventory;
    const picked = new Set<string>();
    for (const term of step.on.terms) {
      try {
        if (term.kind === "pattern") {
          for (const name of resolveSelector(term.text, inventory)) picked.add(name);
        } else if (term.kind === "targets") {
          const earlier = this.#byId.get(term.step);
          if (earlier === undefined) {
            this.issues.push({
              pos: term.pos,
              message: `steps.${term.step}.targets is used before step '${term.step}' runs: ` +
                `a step can only act on the targets of a step above it`,
            });
          }
          for (const name of earlier ?? []) picked.add(name);
        } else {
          const group = resolveSelector(term.group, inventory);
          if (typeof term.count === "number" && term.count > group.length) {
            this.issues.push({
              pos: term.pos,
              message: `pick ${term.count} from group '${term.group}', which has only ` +
                `${group.length} VM(s)`,
            });
          }
          for (const name of pick(group, term.count, this.#seed, path)) picked.add(name);
        }
      } catch (error) {
        if (!(error instanceof SelectorError)) throw error;
        this.issues.push({ pos: term.pos, message: error.message });
      }
    }
    return inventory.map((vm) => vm.name).filter((name) => picked.has(name));
  }
}

/** `count` members of `group`, drawn from `seed` and the step's place: the same every run. */
export function pick(
  group: readonly string[],
  count: PickCount,
  seed: number,
  salt: string,
): string[] {
  const n = group.length;
  const k = Math.min(
    n,
    count === "one"
      ? 1
      : count === "minority"
      ? Math.max(1, Math.ceil(n / 2) - 1)
      : count === "majority"
      ? Math.floor(n / 2) + 1
      : count,
  );
  let hash = seed >>> 0;
  for (const char of salt) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  const rng = xoroshiro128plus(hash);
  const pool = [...group];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = unsafeUniformIntDistribution(0, i, rng);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const chosen = new Set(pool.slice(0, k));
  return group.filter((name) => chosen.has(name));
}

/** Split `targets` into batches of the given sizes; the last size repeats. */
export function batches(targets: readonly string[], sizes: readonly BatchSize[]): string[][] {
  const out: string[][] = [];
  let index = 0;
  for (let i = 0; index < targets.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)]!;
    const n = "count" in size
      ? size.count
      : Math.max(1, Math.ceil((targets.length * size.percent) / 100));
    out.push(targets.slice(index, index + n));
    index += n;
  }
  return out;
}

/** The plan as text: seed, inventory, then every step with its targets. */
export function formatPlan(plan: Plan): string {
  const { recipe } = plan;
  const lines = [
    `recipe ${recipe.name} (${recipe.file})`,
    `seed ${plan.seed}   forks ${recipe.forks}   default timeout ${showDuration(recipe.timeout)}`,
    ...(plan.limit !== undefined
      ? [`limit ${plan.limit}: ${plan.vms.join(", ") || "(no VM)"}`]
      : []),
    ...(plan.startAt !== undefined ? [`start at step ${JSON.stringify(plan.startAt)}`] : []),
    ...(plan.resumeFrom !== undefined ? [`resume from checkpoint '${plan.resumeFrom}'`] : []),
    ...(recipe.hosts.length > 0
      ? [
        "",
        "hosts:",
        ...recipe.hosts.map((h) =>
          `  ${h.name.padEnd(12)} ssh ${h.ssh}${h.port ? ` port ${h.port}` : ""}, ` +
          (h.checkHostKey === false
            ? "host key NOT checked (check-host-key: false)"
            : `host key checked against ${h.knownHosts ?? "~/.ssh/known_hosts"}`) +
          (h.address ? `, reached by other hosts at ${h.address}` : "")
        ),
      ]
      : []),
    "",
    "inventory:",
    ...recipe.inventory.map((vm) =>
      `  ${vm.name.padEnd(12)} ${describeVm(vm)}${
        plan.vms.includes(vm.name) ? "" : " (left out by --limit)"
      }`
    ),
    "",
    "steps:",
    ...plan.steps.flatMap((step) => formatStep(step, recipe, "  ")),
  ];
  if (plan.finally.length > 0) {
    lines.push(
      "",
      "finally (always runs):",
      ...plan.finally.flatMap((step) => formatStep(step, recipe, "  ")),
    );
  }
  if (recipe.metrics.length > 0) {
    lines.push("", "metrics:");
    for (const metric of recipe.metrics) {
      const max = metric.max === undefined ? "" : `, at most ${showDuration(metric.max)}`;
      const min = metric.min === undefined ? "" : `, at least ${metric.min}%`;
      const what = metric.value
        ? `${metric.value.step}.${metric.value.field} (from the step's output)`
        : metric.probe
        ? `probe ${metric.probe.name}'s ${metric.probe.measure}`
        : `${metric.from!.step}.${metric.from!.edge} → ${metric.to!.step}.${metric.to!.edge}`;
      lines.push(`  ${metric.name}: ${what}${max}${min}`);
    }
  }
  return lines.join("\n");
}

function describeVm(vm: InventoryVm): string {
  const groups = vm.groups.length ? ` groups ${vm.groups.join(",")}` : "";
  const caveat = attachKindOf(vm.attach)?.caveat;
  if (caveat) return `attach ${vm.attach}${groups} (${caveat})`;
  if (vm.attach) return `attach ${vm.attach}${groups}`;
  const accel = vm.spec?.guest === "none" ? "" : `, ${vm.spec?.accel ?? defaultAccel()}`;
  const nets = vm.networks.map((n) => ` ${n.name} ${n.address}`).join(",");
  const on = nets ? `, on${nets}` : "";
  const host = vm.spec?.host ? ` on host ${vm.spec.host}` : "";
  const spec = vm.spec ?? { name: vm.name };
  const boot = spec.guest ?? (spec.kernel ? `kernel ${spec.kernel}` : "builtin:tiny");
  const initrd = spec.guest === undefined && spec.initrd ? ` + initrd ${spec.initrd}` : "";
  const disks = (spec.disks ?? []).map((d) =>
    "base" in d ? `overlay of ${d.base}` : "file" in d ? d.file : `${d.size}`
  );
  const extras = [
    ...(spec.memory !== undefined ? [`memory ${spec.memory}`] : []),
    ...(disks.length ? [`disks ${disks.join(", ")}`] : []),
    ...(spec.template ? [`template ${spec.template}`] : []),
  ].map((extra) => `, ${extra}`).join("");
  return `launch ${boot}${initrd}${host}${accel}${extras}, panic ${
    spec.panic ?? "pause"
  }${groups}${on}`;
}

function formatStep(planned: PlannedStep, recipe: Recipe, indent: string): string[] {
  const { step } = planned;
  const kind = step.mutates ? "mutating" : "read-only";
  const timeout = showDuration(step.timeout ?? recipe.timeout);
  const extras = [
    step.id ? `id ${step.id}` : "",
    step.retry ? `retry ${step.retry.attempts}×` : "",
    step.continueOnError ? "continue-on-error" : "",
    step.if ? "conditional" : "",
  ].filter(Boolean);
  const head = `${indent}- ${step.name} [${step.action.kind}, ${kind}, timeout ${timeout}${
    extras.length ? `, ${extras.join(", ")}` : ""
  }] (${showPos(step.pos)})`;
  const lines = [
    head,
    planned.skip
      ? `${indent}    skipped (${planned.skip})`
      : `${indent}    on: ${planned.targets.length ? planned.targets.join(", ") : "(no VM)"}`,
  ];
  if (actionKind(step.action.kind)?.undo) lines.push(`${indent}    fault: ${healsWhen(planned)}`);
  if (planned.batches) {
    lines.push(
      `${indent}    batches: ${
        planned.batches.map((batch) => `[${batch.join(", ")}]`).join(" then ")
      }`,
    );
  }
  if (planned.block) {
    lines.push(
      ...planned.block.steps.flatMap((child) => formatStep(child, recipe, `${indent}    `)),
    );
    if (planned.block.rescue.length) {
      lines.push(
        `${indent}    rescue:`,
        ...planned.block.rescue.flatMap((child) => formatStep(child, recipe, `${indent}    `)),
      );
    }
    if (planned.block.always.length) {
      lines.push(
        `${indent}    always:`,
        ...planned.block.always.flatMap((child) => formatStep(child, recipe, `${indent}    `)),
      );
    }
  }
  return lines;
}

/** The names of the steps (blocks' children included, cleanup not) whose selector picked no VM. */
export function untargetedSteps(steps: readonly PlannedStep[]): string[] {
  return steps.filter((planned) => !planned.skip).flatMap((planned) => [
    ...(planned.targets.length === 0 ? [planned.step.name] : []),
    ...(planned.block ? untargetedSteps([...planned.block.steps, ...planned.block.always]) : []),
  ]);
}

/** When a fault step's fault is healed, for `plan`. */
function healsWhen({ step, path }: PlannedStep): string {
  const scope = /\.(block|rescue|always)\[\d+\]$/.test(path)
    ? "at the end of its block"
    : path.startsWith("finally")
    ? "at the end of the run"
    : "before finally";
  const early = step.duration !== undefined ? `after ${showDuration(step.duration)}, or ` : "";
  return `healed by itself ${early}${scope} (or by a heal step; also on Ctrl-C)`;
}

/** A probe as a step, for planning its targets and checking what it does fits them. */
function probeStep(probe: Probe): Step {
  return {
    name: `probe ${probe.name}`,
    on: probe.on,
    continueOnError: false,
    action: probe.action,
    mutates: false,
    pos: probe.pos,
  };
}
