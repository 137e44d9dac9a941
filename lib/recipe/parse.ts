/**
 * Reading a recipe: YAML with positions (npm `yaml`), every problem reported
 * at once as `file:line:col: message`, with a did-you-mean where one fits.
 * Nothing here touches a VM.
 *
 * @module
 */

import { isMap, isScalar, isSeq, type Node, parseDocument } from "yaml";
import { CorralError } from "../errors.ts";
import { type RecipeIssue } from "./_yaml_tools.ts";

export type { RecipeIssue } from "./_yaml_tools.ts";
export { DEFAULT_MAX_VMS } from "./_inventory_reader.ts";
import { DEFAULT_MAX_VMS, InventoryReader } from "./_inventory_reader.ts";
import { didYouMean } from "../_suggest.ts";
import { actionKind } from "./actions/registry.ts";
import { everyStep } from "./walk.ts";
import { isSecretName, Redactor } from "./secrets.ts";
import { type Recipe, showPos, type Step } from "./model.ts";

/** A recipe is invalid; `issues` lists every problem, in file order. */
export class RecipeError extends CorralError {
  /** Every problem found. */
  readonly issues: readonly RecipeIssue[];

  /** Make an error from `issues`. */
  constructor(issues: readonly RecipeIssue[]) {
    super(issues.map((issue) => `${showPos(issue.pos)}: ${issue.message}`).join("\n"));
    this.issues = issues;
  }
}

/** Options of {@linkcode parseRecipe}. */
export interface ParseOptions {
  /** `--var NAME=VALUE` overrides; values are read as YAML scalars. */
  vars?: Record<string, string>;
  /** `--secret-var NAME=VALUE`: overrides whose values are secret too. */
  secretVars?: Record<string, string>;
  /** The most VMs the inventory may declare. Default 1,000. */
  maxVms?: number;
}

const TOP = [
  "recipe",
  "name",
  "description",
  "tags",
  "vars",
  "vms",
  "defaults",
  "networks",
  "hosts",
  "steps",
  "finally",
  "metrics",
  "probes",
  "invariants",
  "watch",
];

/**
 * Parse and validate recipe `text` from `file`.
 *
 * @throws {RecipeError} Listing every problem, each with its line and column.
 *
 * @example
 * ```ts
 * import { parseRecipe, RecipeError } from "./parse.ts";
 * import assert from "node:assert/strict";
 *
 * const text = "recipe: 1\nname: demo\nvms: { a: {} }\nsteps:\n  - name: s\n    pasue: {}\n";
 * const error = assert.throws(() => parseRecipe(text, "demo.yaml"), RecipeError);
 * ```
 */
export function parseRecipe(text: string, file: string, options: ParseOptions = {}): Recipe {
  const reader = new Reader(text, file, options);
  let recipe: Recipe | undefined;
  try {
    recipe = reader.recipe();
  } catch (error) {
    // Whatever a library throws on hostile input becomes a located recipe error.
    if (!(error instanceof Error) || error instanceof CorralError) throw error;
    reader.issues.push({
      pos: { file, line: 1, col: 1 },
      message: `cannot read the recipe: ${error.message}`,
    });
  }
  if (reader.issues.length > 0) {
    // Messages quote values: the secret ones are masked. An anchor used twice reports its
    // problems once, at the anchor.
    const redact = reader.redactor();
    const unique = new Map(
      reader.issues.map((issue) => {
        const masked = { pos: issue.pos, message: redact.text(issue.message) };
        return [`${showPos(issue.pos)} ${masked.message}`, masked];
      }),
    );
    throw new RecipeError(
      [...unique.values()].sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col),
    );
  }
  return recipe!;
}

/** Read a recipe file and parse it. */
export async function loadRecipe(path: string, options: ParseOptions = {}): Promise<Recipe> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new RecipeError([{
      pos: { file: path, line: 1, col: 1 },
      message: `cannot read the recipe: ${(cause as Error).message}`,
    }]);
  }
  return parseRecipe(text, path, options);
}

class Reader extends InventoryReader {
  protected text: string;
  protected overrides: Record<string, string>;
  protected secretOverrides: Record<string, string>;
  constructor(text: string, file: string, options: ParseOptions) {
    super(file);
    this.text = text;
    this.overrides = options.vars ?? {};
    this.secretOverrides = options.secretVars ?? {};
    this.maxVms = options.maxVms ?? DEFAULT_MAX_VMS;
  }

  /** Masks the values of the secret variables read so far. */
  redactor(): Redactor {
    return new Redactor(this.vars, this.secrets);
  }

  recipe(): Recipe | undefined {
    const root = this.readDocument(this.text);
    if (root === undefined) return undefined;
    const top = this.map(root, "the recipe");
    if (!top) return undefined;
    this.keys(top, TOP, "recipe");
    const version = this.required(top, "recipe", root);
    if (version && this.value(version) !== 1) {
      this.issue(
        version,
        `recipe: format ${JSON.stringify(this.value(version))} is not known; write recipe: 1`,
      );
    }
    const name = this.string(this.required(top, "name", root), "name");
    const description = top.has("description")
      ? this.string(top.get("description")!.value, "description")
      : undefined;
    const tags = top.has("tags") ? this.tags(top.get("tags")!.value) : [];
    this.readVars(top.get("vars")?.value ?? null);
    this.readNetworks(top.get("networks")?.value ?? null);
    const hosts = this.readHosts(top.get("hosts")?.value ?? null);
    this.readInventory(this.required(top, "vms", root));
    this.placeOnNetworks();
    this.expandAddresses();
    this.placeOnHosts(hosts);
    const defaults = this.map(top.get("defaults")?.value ?? null, "defaults", true);
    if (defaults) this.keys(defaults, ["timeout", "forks"], "defaults");
    const timeout = defaults?.get("timeout")
      ? this.duration(defaults.get("timeout")!.value, "timeout")
      : 30_000;
    const forks = defaults?.get("forks")
      ? this.positiveInt(defaults.get("forks")!.value, "forks")
      : 20;
    const steps = this.steps(this.required(top, "steps", root), "steps");
    const cleanup = top.has("finally") ? this.steps(top.get("finally")!.value, "finally") : [];
    const probes = this.probes(top.get("probes")?.value ?? null);
    const invariants = this.invariants(top.get("invariants")?.value ?? null);
    const watch = this.consoleWatch(top.get("watch")?.value ?? null);
    const metrics = this.metrics(top.get("metrics")?.value ?? null);
    this.validate([...steps, ...cleanup], hosts.map((h) => h.name));
    this.checkRefs(probes.map((p) => p.name));
    return {
      file: this.file,
      name: name ?? "",
      description,
      tags,
      vars: this.vars,
      secrets: [...this.secrets],
      inventory: this.inventory,
      networks: this.networkSpecs,
      hosts,
      timeout: timeout ?? 30_000,
      forks: forks ?? 20,
      steps,
      finally: cleanup,
      metrics,
      probes,
      ...(invariants.length ? { invariants } : {}),
      ...(watch ? { watch } : {}),
    };
  }

  /** `tags: [smoke, linux]`: words, each a letter or digit, then letters, digits, `_`, `.`, `-`. */
  protected tags(node: Node | null): string[] {
    return this.list(node).flatMap((item) => {
      const tag = this.string(item, "tags");
      if (tag !== undefined && !/^[A-Za-z0-9][\w.-]*$/.test(tag)) {
        this.issue(item, `tag ${JSON.stringify(tag)} must be a word: letters, digits, _ . -`);
        return [];
      }
      return tag === undefined ? [] : [tag];
    });
  }

  /** Every step id and probe name the recipe refers to exists. */
  protected checkRefs(probes: readonly string[]): void {
    for (const ref of this.probeRefs) {
      if (!probes.includes(ref.name)) {
        this.issues.push({
          pos: ref.pos,
          message: `no probe '${ref.name}'${didYouMean(ref.name, probes)}`,
        });
      }
    }
    for (const ref of this.idRefs) {
      if (!this.stepIds.has(ref.id)) {
        this.issues.push({
          pos: ref.pos,
          message: `no step has id '${ref.id}'${didYouMean(ref.id, this.stepIds.keys())}`,
        });
      }
    }
  }

  protected readVars(node: Node | null): void {
    const entries = this.map(node, "vars", true);
    for (const [name, { value }] of entries ?? []) {
      if (isScalar(value)) this.vars[name] = value.value;
      else if (isMap(value)) this.declaredVar(name, value);
      else if (isSeq(value) && value.items.every((item) => isScalar(item))) {
        this.vars[name] = value.toJSON(); // a list, for loop: ${{ vars.NAME }}
      } else {
        this.issue(
          value,
          `vars.${name} must be a plain value (text, number or true/false), a list of them, ` +
            `or { value: …, secret: true }`,
        );
      }
      if (isSecretName(name)) this.secrets.add(name);
    }
    const overrides = [
      ...Object.entries(this.overrides).map(([name, text]) => ({ name, text, secret: false })),
      ...Object.entries(this.secretOverrides).map(([name, text]) => ({
        name,
        text,
        secret: true,
      })),
    ];
    for (const { name, text, secret } of overrides) {
      const flag = secret ? "--secret-var" : "--var";
      if (!(name in this.vars)) {
        this.issue(
          node,
          `${flag} ${name}: the recipe declares no variable '${name}'` +
            didYouMean(name, Object.keys(this.vars)),
        );
        continue;
      }
      const parsed = parseDocument(text).toJS();
      // A list variable takes a list (--var hosts=[a,b]); any other takes a plain value.
      const list = Array.isArray(this.vars[name]) && Array.isArray(parsed);
      this.vars[name] = list
        ? parsed
        : parsed === null || typeof parsed === "object"
        ? text
        : parsed;
      if (secret) this.secrets.add(name);
    }
  }

  /** `NAME: { value: …, secret: true }`. */
  protected declaredVar(name: string, node: Node): void {
    const entries = this.map(node, `vars.${name}`)!;
    this.keys(entries, ["value", "secret"], `vars.${name}`);
    const value = this.required(entries, "value", node);
    if (value && !isScalar(value)) {
      this.issue(value, `vars.${name}.value must be a plain value (text, number or true/false)`);
    } else if (value) this.vars[name] = value.value;
    const secret = entries.get("secret")?.value;
    if (secret !== undefined && this.bool(secret, `vars.${name}.secret`)) this.secrets.add(name);
  }

  /** Each action's own checks across the recipe (`validate`), at its step. */
  protected validate(steps: readonly Step[], hosts: string[]): void {
    const faults = everyStep(steps).filter((s) => s.id && actionKind(s.action.kind)?.undo)
      .map((s) => s.id!);
    const context = { hosts, vms: this.inventory.map((vm) => vm.name), faults };
    for (const step of everyStep(steps)) {
      const problem = actionKind(step.action.kind)?.validate?.(step.action, context);
      if (problem) this.issues.push({ pos: step.pos, message: `step '${step.name}': ${problem}` });
    }
  }
}
