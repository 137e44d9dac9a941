/**
 * Reading a recipe: YAML with positions (npm `yaml`), every problem reported
 * at once as `file:line:col: message`, with a did-you-mean where one fits.
 * Nothing here touches a VM.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Scalar,
  type YAMLMap,
} from "yaml";
import { CorralError } from "../errors.ts";
import { MAX_TIMER_MS } from "../_async.ts";
import { formatMs } from "../_text.ts";
import { didYouMean } from "../_suggest.ts";
import {
  imageGuest,
  isVmName,
  type LaunchSpec,
  PANIC_POLICIES,
  validateSpec,
} from "../vm/launch.ts";
import type { HostSpec } from "../host/ssh.ts";
import type { Entries, ParseTools } from "./actions/parse_tools.ts";
import { ACTION_KEYS, actionKind, ACTIONS } from "./actions/registry.ts";
import type { ActionKind } from "./actions/action.ts";
import { everyStep } from "./walk.ts";
import { parseDuration } from "./duration.ts";
import { isSecretName, Redactor } from "./secrets.ts";
import { addresses, type NetworkSpec } from "../vm/network.ts";
import {
  type BatchSize,
  type Condition,
  type Edge,
  type InventoryVm,
  type Metric,
  type Pattern,
  type PickCount,
  type Pos,
  type Recipe,
  type SelectorTerm,
  showPos,
  type Step,
  type StepSelector,
  type Template,
} from "./model.ts";

/** One problem in a recipe, with where it is. */
export interface RecipeIssue {
  /** Where the problem is. */
  pos: Pos;
  /** What is wrong, and what to write instead when that is known. */
  message: string;
}

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
  "vars",
  "vms",
  "defaults",
  "networks",
  "hosts",
  "steps",
  "finally",
  "metrics",
];
/** The inventory fields that go into the launch spec as they are. */
const SPEC_KEYS = [
  "guest",
  "memory",
  "cpus",
  "machine",
  "qemu",
  "args",
  "panic",
  "kernel",
  "initrd",
  "append",
  "agent",
  "accel",
  "template",
  "host",
  "disks",
] as const;
/**
 * The files a VM launched here boots from that cannot be read: its kernel,
 * initrd, guest image and disk bases (on an SSH host they are the host's).
 */
function missingFiles(spec: LaunchSpec): string[] {
  if (spec.host !== undefined) return [];
  const files: [string, unknown][] = [
    ["kernel", spec.kernel],
    ["initrd", spec.initrd],
    ["guest", typeof spec.guest === "string" ? imageGuest(spec) : undefined],
    ...(Array.isArray(spec.disks) ? spec.disks : []).map((disk, i): [string, unknown] => [
      `disks[${i}].base`,
      (disk as { base?: unknown })?.base,
    ]),
  ];
  return files.flatMap(([what, path]) => {
    if (typeof path !== "string") return [];
    try {
      if (Deno.statSync(path).isFile) return [];
      return [`${what} ${path} is not a file`];
    } catch (error) {
      return error instanceof Deno.errors.NotFound
        ? [`${what} ${path} does not exist`]
        : error instanceof Deno.errors.NotCapable
        ? [] // no read permission here: launch will say
        : [`${what} ${path} cannot be read: ${(error as Error).message}`];
    }
  });
}

/** Every inventory field: the spec's, and those corral itself uses. */
const VM_KEYS = [...SPEC_KEYS, "groups", "attach", "networks"];
const HOST_KEYS = [
  "ssh",
  "port",
  "identity",
  "qemu",
  "runtime-dir",
  "known-hosts",
  "check-host-key",
  "address",
  "max-sessions",
];
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
];
/** The deepest nesting of mappings and lists a recipe may have (blocks in blocks included). */
const MAX_DEPTH = 64;
/** The most values a recipe may expand to once aliases are followed (a guard against alias bombs). */
const MAX_NODES = 1_000_000;

/** More VMs than this need `maxVms` (`--max-vms`): a typo in a range should not launch a million. */
export const DEFAULT_MAX_VMS = 1000;
const REF = /\$\{\{\s*([^}]*?)\s*\}\}/g;

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

class Reader implements ParseTools {
  issues: RecipeIssue[] = [];
  #file: string;
  #lines = new LineCounter();
  #text: string;
  #overrides: Record<string, string>;
  #secretOverrides: Record<string, string>;
  #maxVms: number;
  #vars: Record<string, unknown> = {};
  #secrets = new Set<string>();
  #names = new Set<string>();
  #stepIds = new Map<string, Pos>();
  #stepNames = new Map<string, Pos>();
  #idRefs: { id: string; pos: Pos }[] = [];
  #inventory: InventoryVm[] = [];

  constructor(text: string, file: string, options: ParseOptions) {
    this.#text = text;
    this.#file = file;
    this.#overrides = options.vars ?? {};
    this.#secretOverrides = options.secretVars ?? {};
    this.#maxVms = options.maxVms ?? DEFAULT_MAX_VMS;
  }

  /** Masks the values of the secret variables read so far. */
  redactor(): Redactor {
    return new Redactor(this.#vars, this.#secrets);
  }

  recipe(): Recipe | undefined {
    const doc = parseDocument(this.#text, {
      lineCounter: this.#lines,
      prettyErrors: false,
      merge: true,
    });
    for (const error of doc.errors) {
      const at = this.#lines.linePos(error.pos[0]);
      const message = error.message.split("\n")[0]!;
      this.issues.push({
        pos: { file: this.#file, ...at },
        message: /call stack/i.test(message)
          ? `nested too deeply to read (a recipe nests at most ${MAX_DEPTH} levels)`
          : message,
      });
    }
    if (doc.errors.length > 0) return undefined;
    resolveAliases(doc);
    const root = doc.contents;
    if (!this.#shallow(root)) return undefined;
    const top = this.map(root, "the recipe");
    if (!top) return undefined;
    this.keys(top, TOP, "recipe");
    const version = this.required(top, "recipe", root);
    if (version && this.#value(version) !== 1) {
      this.issue(
        version,
        `recipe: format ${JSON.stringify(this.#value(version))} is not known; write recipe: 1`,
      );
    }
    const name = this.string(this.required(top, "name", root), "name");
    const description = top.has("description")
      ? this.string(top.get("description")!.value, "description")
      : undefined;
    this.#readVars(top.get("vars")?.value ?? null);
    this.#readNetworks(top.get("networks")?.value ?? null);
    const hosts = this.#readHosts(top.get("hosts")?.value ?? null);
    this.#readInventory(this.required(top, "vms", root));
    this.#placeOnNetworks();
    this.#placeOnHosts(hosts);
    const defaults = this.map(top.get("defaults")?.value ?? null, "defaults", true);
    if (defaults) this.keys(defaults, ["timeout", "forks"], "defaults");
    const timeout = defaults?.get("timeout")
      ? this.duration(defaults.get("timeout")!.value, "timeout")
      : 30_000;
    const forks = defaults?.get("forks")
      ? this.#positiveInt(defaults.get("forks")!.value, "forks")
      : 20;
    const steps = this.steps(this.required(top, "steps", root), "steps");
    const cleanup = top.has("finally") ? this.steps(top.get("finally")!.value, "finally") : [];
    const metrics = this.#metrics(top.get("metrics")?.value ?? null);
    this.#validate([...steps, ...cleanup], hosts.map((h) => h.name));
    for (const ref of this.#idRefs) {
      if (!this.#stepIds.has(ref.id)) {
        this.issues.push({
          pos: ref.pos,
          message: `no step has id '${ref.id}'${didYouMean(ref.id, this.#stepIds.keys())}`,
        });
      }
    }
    return {
      file: this.#file,
      name: name ?? "",
      description,
      vars: this.#vars,
      secrets: [...this.#secrets],
      inventory: this.#inventory,
      networks: this.#networkSpecs,
      hosts,
      timeout: timeout ?? 30_000,
      forks: forks ?? 20,
      steps,
      finally: cleanup,
      metrics,
    };
  }

  /** Whether the document nests at most MAX_DEPTH levels (checked without recursion). */
  #shallow(root: Node | null): boolean {
    const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
    for (let visited = 0; stack.length > 0; visited++) {
      const { node, depth } = stack.pop()!;
      if (visited > MAX_NODES) {
        this.issue(
          node as Node,
          `the recipe expands to more than ${MAX_NODES} values (aliases of aliases?)`,
        );
        return false;
      }
      if (depth > MAX_DEPTH) {
        this.issue(node as Node, `nested more than ${MAX_DEPTH} levels deep`);
        return false;
      }
      if (isMap(node)) {
        for (const pair of node.items) stack.push({ node: pair.value, depth: depth + 1 });
      } else if (isSeq(node)) {
        for (const item of node.items) stack.push({ node: item, depth: depth + 1 });
      }
    }
    return true;
  }

  // ---- structure helpers ------------------------------------------------

  #pos(node: Node | null | undefined): Pos {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.#lines.linePos(offset);
    return { file: this.#file, line, col };
  }

  issue(node: Node | null | undefined, message: string): undefined {
    this.issues.push({ pos: this.#pos(node), message });
    return undefined;
  }

  map(node: Node | null, what: string, optional = false): Entries | undefined {
    if (node === null || (isScalar(node) && node.value === null)) {
      return optional ? undefined : this.issue(node, `${what} must be a mapping`);
    }
    if (!isMap(node)) return this.issue(node, `${what} must be a mapping, not ${kindOf(node)}`);
    const entries: Entries = new Map();
    const merged: Node[] = [];
    for (const pair of (node as YAMLMap<Scalar, Node>).items) {
      const key = pair.key;
      if (isScalar(key) && typeof key.value === "symbol") {
        // A merge key (`<<: *base`, or a list of them): its mappings fill in what is not written here.
        const value = pair.value as Node | null;
        merged.push(...(isSeq(value) ? value.items as Node[] : value ? [value] : []));
        continue;
      }
      if (!isScalar(key) || typeof key.value !== "string" && typeof key.value !== "number") {
        this.issue(key as Node, `${what}: keys must be plain names`);
        continue;
      }
      entries.set(String(key.value), { key, value: (pair.value as Node | null) ?? null });
    }
    for (const source of merged) {
      if (isAlias(source) || !isMap(source)) {
        this.issue(source, `${what}: << merges mappings only, not ${kindOf(source)}`);
        continue;
      }
      for (const [name, entry] of this.map(source, what) ?? []) {
        if (!entries.has(name)) entries.set(name, entry);
      }
    }
    return entries;
  }

  keys(entries: Entries, allowed: readonly string[], where: string): void {
    for (const [name, { key }] of entries) {
      if (!allowed.includes(name)) {
        this.issue(key, `unknown key '${name}' in ${where}${didYouMean(name, allowed)}`);
      }
    }
  }

  required(entries: Entries, key: string, parent: Node | null): Node | null | undefined {
    const entry = entries.get(key);
    if (!entry) return this.issue(parent, `missing required key '${key}'`);
    return entry.value;
  }

  /** A scalar's value with `${{ vars.X }}` expanded; runtime refs are errors here. */
  #value(node: Node | null | undefined): unknown {
    if (!node) return null;
    if (!isScalar(node)) return node.toJSON();
    const value = node.value;
    if (typeof value !== "string" || !value.includes("${{")) return value;
    const template = this.template(node);
    if (!template) return undefined;
    if (template.some((part) => typeof part !== "string")) {
      return this.issue(
        node,
        `${"${{ vm.name }}"} and ${"${{ seed }}"} are only allowed in console send and exec, ` +
          `fail messages, qmp arguments and expect, and wait-event match`,
      );
    }
    const whole = template.length === 1 ? this.#wholeVar(node) : undefined;
    return whole !== undefined ? whole : template.join("");
  }

  #wholeVar(node: Scalar): unknown {
    const match = /^\$\{\{\s*vars\.([\w-]+)\s*\}\}$/.exec(String(node.value));
    return match ? this.#vars[match[1]!] : undefined;
  }

  /** A string with references: vars expand now, vm.name and seed at run time. */
  template(node: Node | null | undefined): Template | undefined {
    if (node === undefined) return undefined; // a missing required key: reported already
    if (!node || !isScalar(node)) return this.issue(node, "expected text");
    const text = String(node.value);
    const parts: (string | { ref: "vm.name" | "seed" })[] = [];
    let last = 0;
    let ok = true;
    for (const match of text.matchAll(REF)) {
      parts.push(text.slice(last, match.index));
      last = match.index! + match[0].length;
      const expr = match[1]!;
      const variable = /^vars\.([\w-]+)$/.exec(expr);
      const address = /^vms\.([\w.-]+)\.address\.([\w-]+)$/.exec(expr);
      if (address) {
        const vm = this.#inventory.find((v) => v.name === address[1]);
        const nic = vm?.networks.find((n) => n.name === address[2]);
        if (nic) parts.push(nic.address.split("/")[0]!);
        else {
          this.issue(
            node,
            vm
              ? `vm '${address[1]}' is not on network '${address[2]}'${
                didYouMean(address[2]!, vm.networks.map((n) => n.name))
              }`
              : `no VM '${address[1]}'${
                didYouMean(address[1]!, this.#inventory.map((v) => v.name))
              }`,
          );
          ok = false;
        }
      } else if (variable) {
        if (!(variable[1]! in this.#vars)) {
          this.issue(
            node,
            `unknown variable '${variable[1]}'${didYouMean(variable[1]!, Object.keys(this.#vars))}`,
          );
          ok = false;
        } else parts.push(String(this.#vars[variable[1]!]));
      } else if (expr === "vm.name" || expr === "seed") parts.push({ ref: expr });
      else if (/^steps\.[\w-]+\.targets$/.test(expr)) {
        this.issue(node, `${match[0]} is a list of VMs: use it as the whole value of 'on'`);
        ok = false;
      } else {
        this.issue(
          node,
          `unknown reference ${
            match[0]
          }: use vars.NAME, steps.ID.targets, vms.NAME.address.NETWORK, vm.name or seed`,
        );
        ok = false;
      }
    }
    parts.push(text.slice(last));
    const merged: (string | { ref: "vm.name" | "seed" })[] = [];
    for (const part of parts) {
      const previous = merged[merged.length - 1];
      if (typeof part === "string" && typeof previous === "string") {
        merged[merged.length - 1] = previous + part;
      } else if (part !== "") merged.push(part);
    }
    return ok ? merged : undefined;
  }

  string(node: Node | null | undefined, what: string): string | undefined {
    const value = this.#value(node);
    if (typeof value === "string" && value !== "") return value;
    if (value !== undefined) this.issue(node, `${what} must be text, not ${describe(value)}`);
    return undefined;
  }

  #positiveInt(node: Node | null | undefined, what: string): number | undefined {
    const value = this.#value(node);
    const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof number === "number" && Number.isInteger(number) && number > 0) return number;
    if (value !== undefined) {
      this.issue(node, `${what} must be a positive whole number, not ${describe(value)}`);
    }
    return undefined;
  }

  duration(node: Node | null | undefined, what: string): number | undefined {
    const value = this.#value(node);
    const ms = parseDuration(value);
    if (ms !== undefined && ms > MAX_TIMER_MS) {
      return this.issue(
        node,
        `${what}: ${describe(value)} is longer than the longest deadline corral can keep ` +
          `(${formatMs(MAX_TIMER_MS)}, about 24 days)`,
      );
    }
    if (ms !== undefined) return ms;
    if (value !== undefined) {
      this.issue(
        node,
        `${what}: ${describe(value)} is not a duration; write 500ms, 20s, 2m or 1h`,
      );
    }
    return undefined;
  }

  bool(node: Node | null | undefined, what: string): boolean | undefined {
    const value = this.#value(node);
    if (typeof value === "boolean") return value;
    if (value !== undefined) {
      this.issue(node, `${what} must be true or false, not ${describe(value)}`);
    }
    return undefined;
  }

  list(node: Node | null | undefined): Node[] {
    if (isSeq(node)) return node.items as Node[];
    return node ? [node] : [];
  }

  /** One of `values`, or an issue with a did-you-mean. */
  oneOf<T extends string>(
    node: Node | null | undefined,
    what: string,
    values: readonly T[],
  ): T | undefined {
    const value = this.#value(node);
    if (typeof value === "string" && (values as readonly string[]).includes(value)) {
      return value as T;
    }
    const hint = typeof value === "string" ? didYouMean(value, values) : "";
    return this.issue(node, `${what} must be one of ${values.join(", ")}${hint}`);
  }

  pattern(node: Node | null | undefined, what: string): Pattern | undefined {
    const text = this.string(node, what);
    if (text === undefined) return undefined;
    const regex = /^\/(.*)\/([a-z]*)$/s.exec(text);
    if (!regex) return text;
    try {
      return new RegExp(regex[1]!, regex[2]);
    } catch (cause) {
      return this.issue(
        node,
        `${what}: ${text} is not a valid regular expression: ${(cause as Error).message}`,
      );
    }
  }

  // ---- sections ---------------------------------------------------------

  #readVars(node: Node | null): void {
    const entries = this.map(node, "vars", true);
    for (const [name, { value }] of entries ?? []) {
      if (isScalar(value)) this.#vars[name] = value.value;
      else if (isMap(value)) this.#declaredVar(name, value);
      else {
        this.issue(
          value,
          `vars.${name} must be a plain value (text, number or true/false), ` +
            `or { value: …, secret: true }`,
        );
      }
      if (isSecretName(name)) this.#secrets.add(name);
    }
    const overrides = [
      ...Object.entries(this.#overrides).map(([name, text]) => ({ name, text, secret: false })),
      ...Object.entries(this.#secretOverrides).map(([name, text]) => ({
        name,
        text,
        secret: true,
      })),
    ];
    for (const { name, text, secret } of overrides) {
      const flag = secret ? "--secret-var" : "--var";
      if (!(name in this.#vars)) {
        this.issue(
          node,
          `${flag} ${name}: the recipe declares no variable '${name}'` +
            didYouMean(name, Object.keys(this.#vars)),
        );
        continue;
      }
      const parsed = parseDocument(text).toJS();
      this.#vars[name] = parsed === null || typeof parsed === "object" ? text : parsed;
      if (secret) this.#secrets.add(name);
    }
  }

  /** `NAME: { value: …, secret: true }`. */
  #declaredVar(name: string, node: Node): void {
    const entries = this.map(node, `vars.${name}`)!;
    this.keys(entries, ["value", "secret"], `vars.${name}`);
    const value = this.required(entries, "value", node);
    if (value && !isScalar(value)) {
      this.issue(value, `vars.${name}.value must be a plain value (text, number or true/false)`);
    } else if (value) this.#vars[name] = value.value;
    const secret = entries.get("secret")?.value;
    if (secret !== undefined && this.bool(secret, `vars.${name}.secret`)) this.#secrets.add(name);
  }

  #networkSpecs: NetworkSpec[] = [];
  #networkNodes = new Map<string, Node | null>();
  #joins = new Map<string, string[]>();

  /**
   * `hosts: { h1: { ssh: user@host, port, identity, qemu, runtime-dir, known-hosts,
   * check-host-key, address } }`. No password has a place here: keys come from the SSH agent
   * or an identity file.
   */
  #readHosts(node: Node | null): HostSpec[] {
    const entries = this.map(node, "hosts", true);
    const hosts: HostSpec[] = [];
    for (const [name, { key, value }] of entries ?? []) {
      if (!isVmName(name)) this.issue(key, `host name ${JSON.stringify(name)} is not a valid name`);
      const options = this.map(value, `hosts.${name}`);
      if (!options) continue;
      if (options.has("password")) {
        this.issue(
          options.get("password")!.key,
          "no password in a recipe: load a key into the SSH agent or name an identity file",
        );
        options.delete("password");
      }
      this.keys(options, HOST_KEYS, `hosts.${name}`);
      const text = (k: string) =>
        options.has(k) ? this.string(options.get(k)!.value, k) : undefined;
      const sshNode = this.required(options, "ssh", value);
      const ssh = this.string(sshNode, "ssh");
      if (ssh === undefined) continue;
      if (ssh.startsWith("-")) {
        // ssh would read it as an option (-oProxyCommand=… runs a command).
        this.issue(sshNode, `ssh must be user@host or host, not ${JSON.stringify(ssh)}`);
      }
      const port = options.has("port")
        ? this.#positiveInt(options.get("port")!.value, "port")
        : undefined;
      const check = options.get("check-host-key")?.value;
      hosts.push({
        name,
        ssh,
        port,
        identity: text("identity"),
        qemu: text("qemu"),
        runtimeDir: text("runtime-dir"),
        knownHosts: text("known-hosts"),
        checkHostKey: check === undefined ? undefined : this.bool(check, "check-host-key"),
        address: text("address"),
        maxSessions: options.has("max-sessions")
          ? this.#positiveInt(options.get("max-sessions")!.value, "max-sessions")
          : undefined,
      });
    }
    return hosts;
  }

  /** Each action's own checks across the recipe (`validate`), at its step. */
  #validate(steps: readonly Step[], hosts: string[]): void {
    const context = { hosts, vms: this.#inventory.map((vm) => vm.name) };
    for (const step of everyStep(steps)) {
      const problem = actionKind(step.action.kind)?.validate?.(step.action, context);
      if (problem) this.issues.push({ pos: step.pos, message: `step '${step.name}': ${problem}` });
    }
  }

  /** Every VM's `host` names a host of `hosts`, and no VM on a host joins a lab network. */
  #placeOnHosts(hosts: readonly HostSpec[]): void {
    const names = hosts.map((h) => h.name);
    for (const vm of this.#inventory) {
      const host = vm.spec?.host;
      if (host === undefined) continue;
      if (!names.includes(host)) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': no host '${host}' in hosts${didYouMean(host, names)}`,
        });
      } else if ((this.#joins.get(vm.name) ?? []).length > 0) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': lab networks on SSH hosts are not supported yet`,
        });
      }
    }
  }

  /** `networks: { lan: {}, mgmt: { subnet: 10.45.0.0/24 } }`: default subnets 10.44.N.0/24. */
  #readNetworks(node: Node | null): void {
    const entries = this.map(node, "networks", true);
    [...(entries ?? [])].forEach(([name, { value }], index) => {
      const options = this.map(value, `networks.${name}`, true);
      if (options) this.keys(options, ["subnet"], `networks.${name}`);
      let subnet = `10.44.${index}.0/24`;
      const given = options?.get("subnet")?.value;
      if (given !== undefined) {
        const text = this.string(given, "subnet");
        const match = text && /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
        if (
          !match || match.slice(1, 5).some((o) => Number(o) > 255) || Number(match[5]) < 8 ||
          Number(match[5]) > 29
        ) {
          this.issue(given, `subnet must be like 10.45.0.0/24 (a prefix from /8 to /29)`);
        } else subnet = text;
      }
      this.#networkSpecs.push({ name, subnet, members: [] });
      this.#networkNodes.set(name, value);
    });
  }

  /** `disks: [{ base: image.qcow2 }, { size: 1G }]`. */
  #disks(node: Node | null, where: string): ({ base: string } | { size: string })[] | undefined {
    const disks = this.list(node).map((item) => {
      const entries = this.map(item, `${where} entry`);
      if (!entries) return undefined;
      this.keys(entries, ["base", "size"], `${where} entry`);
      if (entries.has("base") === entries.has("size")) {
        return this.issue(item, `${where}: give each disk a base image or a size, not both`);
      }
      if (entries.has("base")) {
        const base = this.string(entries.get("base")!.value, "base");
        return base === undefined ? undefined : { base };
      }
      const size = this.string(entries.get("size")!.value, "size");
      if (size !== undefined && !/^\d+[KMGT]?$/i.test(size)) {
        return this.issue(
          entries.get("size")!.value,
          `size must be like 512M or 2G, not ${JSON.stringify(size)}`,
        );
      }
      return size === undefined ? undefined : { size };
    });
    return disks.every((d) => d !== undefined)
      ? disks as ({ base: string } | { size: string })[]
      : undefined;
  }

  /** Each VM's NICs and addresses, in inventory order per network. */
  #placeOnNetworks(): void {
    const names = this.#networkSpecs.map((n) => n.name);
    for (const vm of this.#inventory) {
      for (const network of this.#joins.get(vm.name) ?? []) {
        if (!names.includes(network)) {
          this.issues.push({
            pos: vm.pos,
            message: `vm '${vm.name}': no network '${network}' is declared under networks${
              didYouMean(network, names)
            }`,
          });
        }
      }
    }
    for (const spec of this.#networkSpecs) {
      const members = this.#inventory.filter((vm) => this.#joins.get(vm.name)?.includes(spec.name));
      // .0 is the network, .1 the lab's own end, the last the broadcast address.
      const room = 2 ** (32 - Number(spec.subnet.split("/")[1])) - 3;
      if (members.length > room) {
        this.issues.push({
          pos: members[room]!.pos,
          message: `network '${spec.name}' (${spec.subnet}) has room for ${room} VMs and ` +
            `${members.length} join it: give it a larger subnet`,
        });
      }
      for (const vm of members.filter((vm) => vm.spec?.template === "warm")) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': template: warm does not take lab networks yet`,
        });
      }
      spec.members = addresses(spec.subnet, members.map((vm) => vm.name));
      for (const member of spec.members) {
        const vm = this.#inventory.find((v) => v.name === member.vm)!;
        (vm.networks as { name: string; address: string }[]).push({
          name: spec.name,
          address: member.address,
        });
      }
    }
  }

  #readInventory(node: Node | null | undefined): void {
    const entries = this.map(node ?? null, "vms");
    if (!entries) return;
    const defaultsEntry = entries.get("defaults");
    const defaults = defaultsEntry ? this.#vmFields(defaultsEntry.value, "vms.defaults", true) : {};
    const declared = [...entries].filter(([key]) => key !== "defaults").map(([key, entry]) => ({
      key,
      entry,
      range: /^([A-Za-z][\w.-]*?)\[(\d+):(\d+)\]$/.exec(key),
    }));
    // Count before expanding: a typo like web[1:1000000] must fail at once, not after a million names.
    const total = declared.reduce(
      (sum, { range }) => sum + (range ? Math.max(0, Number(range[3]) - Number(range[2]) + 1) : 1),
      0,
    );
    if (total > this.#maxVms) {
      this.issue(
        node,
        `vms declares ${total} VMs, more than the ${this.#maxVms} allowed: ` +
          `check the ranges, or raise the limit with --max-vms ${total}`,
      );
      return;
    }
    for (const { key, entry: { key: keyNode, value }, range } of declared) {
      const first = range ? Number(range[2]) : 0;
      const count = range ? Math.max(0, Number(range[3]) - first + 1) : 1;
      const names = range
        ? Array.from({ length: count }, (_, i) => `${range[1]}${first + i}`)
        : [key];
      if (range && names.length === 0) {
        this.issue(keyNode, `the range ${key} is empty: write name[FIRST:LAST] with FIRST ≤ LAST`);
      }
      const fields = this.#vmFields(value, `vms.${key}`, false);
      for (const name of names) this.#addVm(name, { ...defaults, ...fields }, keyNode);
    }
    if (this.#inventory.length === 0) this.issue(node, "vms declares no VM");
  }

  #vmFields(node: Node | null, where: string, isDefaults: boolean): Record<string, unknown> {
    const entries = this.map(node, where, true);
    if (!entries) return {};
    this.keys(entries, isDefaults ? VM_KEYS.filter((k) => k !== "attach") : VM_KEYS, where);
    const fields: Record<string, unknown> = {};
    for (const [key, { value }] of entries) {
      if (key === "disks") fields.disks = this.#disks(value, `${where}.disks`);
      else if (key === "groups" || key === "args" || key === "networks") {
        const items = this.list(value).map((item) => this.string(item, `${where}.${key}`));
        if (items.every((item) => item !== undefined)) fields[key] = items;
      } else if (key === "cpus") fields.cpus = this.#positiveInt(value, `${where}.cpus`);
      else if (key === "panic") fields.panic = this.oneOf(value, `${where}.panic`, PANIC_POLICIES);
      else fields[key] = this.#value(value);
    }
    return fields;
  }

  #addVm(name: string, fields: Record<string, unknown>, keyNode: Node): void {
    const pos = this.#pos(keyNode);
    if (this.#names.has(name)) {
      this.issue(keyNode, `VM '${name}' is declared twice`);
      return;
    }
    this.#names.add(name);
    if (name === "all") {
      this.issue(keyNode, "'all' is the group of every VM: name the VM something else");
    }
    const groups = (fields.groups as string[] | undefined) ?? [];
    if (typeof fields.attach === "string") {
      // Attached VMs obey the name rule too: a name becomes a report path.
      for (const problem of validateSpec({ name })) {
        this.issues.push({ pos, message: `vm '${name}': ${problem}` });
      }
      const vm: InventoryVm = { name, groups, attach: fields.attach, pos, networks: [] };
      if (fields.networks !== undefined) {
        this.issues.push({ pos, message: `vm '${name}': an attached VM cannot join lab networks` });
      }
      if (typeof fields.agent === "string") vm.agent = fields.agent;
      else if (fields.agent !== undefined) {
        this.issues.push({
          pos,
          message: `vm '${name}': agent of an attached VM is its socket, unix:/path`,
        });
      }
      this.#inventory.push(vm);
      return;
    }
    if (fields.agent !== undefined && typeof fields.agent !== "boolean") {
      this.issues.push({
        pos,
        message: `vm '${name}': agent is true or false for a VM corral launches`,
      });
    }
    const spec: LaunchSpec = { name };
    for (const key of SPEC_KEYS) {
      if (fields[key] !== undefined) {
        (spec as unknown as Record<string, unknown>)[key] = fields[key];
      }
    }
    for (const problem of [...validateSpec(spec), ...missingFiles(spec)]) {
      this.issues.push({ pos, message: `vm '${name}': ${problem}` });
    }
    this.#inventory.push({ name, groups, spec, pos, networks: [] });
    this.#joins.set(name, (fields.networks as string[] | undefined) ?? []);
  }

  steps(node: Node | null | undefined, where: string): Step[] {
    if (!isSeq(node)) {
      this.issue(node, `${where} must be a list of steps`);
      return [];
    }
    return (node.items as Node[]).map((item) => this.#step(item)).filter((step) =>
      step !== undefined
    );
  }

  #step(node: Node): Step | undefined {
    const entries = this.map(node, "a step");
    if (!entries) return undefined;
    const pos = this.#pos(node);
    const actionKeys = [...entries.keys()].filter((key) => ACTION_KEYS.includes(key));
    for (const [key, { key: keyNode }] of entries) {
      if (!ACTION_KEYS.includes(key) && !STEP_MODIFIERS.includes(key)) {
        this.issue(
          keyNode,
          `unknown key '${key}' in a step${didYouMean(key, [...ACTION_KEYS, ...STEP_MODIFIERS])}`,
        );
      }
    }
    const name = this.string(this.required(entries, "name", node), "name");
    if (name !== undefined) {
      const earlier = this.#stepNames.get(name);
      if (earlier) {
        this.issue(
          entries.get("name")!.value,
          `step name '${name}' is already used at line ${earlier.line}`,
        );
      } else this.#stepNames.set(name, pos);
    }
    let id: string | undefined;
    if (entries.has("id")) {
      id = this.string(entries.get("id")!.value, "id");
      if (id !== undefined && !/^[A-Za-z][\w-]*$/.test(id)) {
        this.issue(
          entries.get("id")!.value,
          `id '${id}' must start with a letter and hold only letters, digits, '-' and '_'`,
        );
      } else if (id !== undefined && this.#stepIds.has(id)) {
        this.issue(
          entries.get("id")!.value,
          `id '${id}' is already used at line ${this.#stepIds.get(id)!.line}`,
        );
      } else if (id !== undefined) this.#stepIds.set(id, pos);
    }
    const on = this.#selector(entries.get("on")?.value ?? null, pos);
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
    this.#foreignKeys(entries, actionType);
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
    if (entries.has("retry")) step.retry = this.#retry(entries.get("retry")!.value);
    if (entries.has("if")) step.if = this.#condition(entries.get("if")!.value);
    if (entries.has("serial")) step.serial = this.#batches(entries.get("serial")!.value);
    if (entries.has("max-failures")) {
      step.maxFailures = this.#countOrPercent(
        entries.get("max-failures")!.value,
        "max-failures",
        true,
      );
    }
    return step;
  }

  /** Step keys that belong to another action (`rescue` without a block). */
  #foreignKeys(entries: Entries, kind: ActionKind): void {
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

  #selector(node: Node | null, stepPos: Pos): StepSelector {
    if (node === null) {
      return { terms: [{ kind: "pattern", text: "all", pos: stepPos }], pos: stepPos };
    }
    const terms: SelectorTerm[] = [];
    for (const item of this.list(node)) {
      const pos = this.#pos(item);
      if (isMap(item)) {
        const entries = this.map(item, "a pick")!;
        this.keys(entries, ["group", "pick"], "a pick");
        const group = this.string(this.required(entries, "group", item), "group");
        const pickNode = this.required(entries, "pick", item);
        const pick = this.#value(pickNode);
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
          this.#checkTerm(group, item, true);
          terms.push({ kind: "pick", group, count, pos });
        }
        continue;
      }
      const raw = isScalar(item) ? String(item.value) : "";
      const targets = /^\$\{\{\s*steps\.([\w-]+)\.targets\s*\}\}$/.exec(raw);
      if (targets) {
        this.#idRefs.push({ id: targets[1]!, pos });
        terms.push({ kind: "targets", step: targets[1]!, pos });
        continue;
      }
      const text = this.string(item, "on");
      if (text === undefined) continue;
      for (const part of text.split(":")) this.#checkTerm(part.replace(/^[!&]/, ""), item, false);
      terms.push({ kind: "pattern", text, pos });
    }
    return { terms, pos: this.#pos(node) };
  }

  #checkTerm(term: string, node: Node, groupOnly: boolean): void {
    if (term === "all" || /[*?[]/.test(term)) return;
    const names = this.#inventory.map((vm) => vm.name);
    const groups = this.#inventory.flatMap((vm) => vm.groups);
    if (groups.includes(term) || (!groupOnly && names.includes(term))) return;
    const known = groupOnly ? [...groups, "all"] : [...names, ...groups, "all"];
    this.issue(
      node,
      `'${term}' is not ${groupOnly ? "a group" : "a VM or a group"} of this recipe${
        didYouMean(term, known)
      }`,
    );
  }

  /** A nested YAML value as JSON, with vars expanded in its strings. */
  json(node: Node | null, what: string): unknown {
    if (node === null) return null;
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === "string" && value.includes("${{")) {
        const template = this.template(node);
        if (!template) return undefined;
        if (template.every((part) => typeof part === "string")) return this.#value(node);
        return { $template: template };
      }
      return value;
    }
    if (isSeq(node)) return (node.items as Node[]).map((item) => this.json(item, what));
    if (isMap(node)) {
      const entries = this.map(node, what)!;
      return Object.fromEntries(
        [...entries].map(([key, { value }]) => [key, this.json(value, what)]),
      );
    }
    return this.issue(node, `${what}: unsupported YAML here`);
  }

  #retry(node: Node | null): Step["retry"] {
    const options = this.map(node, "retry");
    if (!options) return undefined;
    this.keys(options, ["attempts", "interval", "until"], "retry");
    const attempts = this.#positiveInt(this.required(options, "attempts", node), "attempts") ?? 1;
    const interval = options.has("interval")
      ? this.duration(options.get("interval")!.value, "interval") ?? 1000
      : 1000;
    const retry: NonNullable<Step["retry"]> = { attempts, interval };
    if (options.has("until")) retry.until = this.json(options.get("until")!.value, "until");
    return retry;
  }

  #condition(node: Node | null): Condition | undefined {
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
        if (!(name in this.#vars)) {
          this.issue(
            value,
            `unknown variable '${name}'${didYouMean(name, Object.keys(this.#vars))}`,
          );
        }
        const condition: Condition = { var: name };
        if (options.has("equals")) condition.equals = this.#value(options.get("equals")!.value);
        if (options.has("not-equals")) {
          condition.notEquals = this.#value(options.get("not-equals")!.value);
        }
        return condition;
      }
      case "step": {
        const id = this.string(value, "step");
        const outcomeNode = this.required(options, "outcome", node);
        const outcome = this.#value(outcomeNode);
        if (id !== undefined) this.#idRefs.push({ id, pos: this.#pos(value) });
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
        const inner = this.#condition(value);
        return inner ? { not: inner } : undefined;
      }
      default: {
        const items = this.list(value).map((item) => this.#condition(item));
        if (!items.every((item) => item !== undefined)) return undefined;
        return kind[0] === "all" ? { all: items as Condition[] } : { any: items as Condition[] };
      }
    }
  }

  #batches(node: Node | null): BatchSize[] | undefined {
    const sizes = this.list(node).map((item) => this.#countOrPercent(item, "serial", false));
    return sizes.every((size) => size !== undefined) && sizes.length > 0
      ? sizes as BatchSize[]
      : undefined;
  }

  #countOrPercent(
    node: Node | null,
    what: string,
    zeroOk: boolean,
  ): { count: number } | { percent: number } | undefined {
    const value = this.#value(node);
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

  #metrics(node: Node | null): Metric[] {
    const entries = this.map(node, "metrics", true);
    const metrics: Metric[] = [];
    for (const [name, { value }] of entries ?? []) {
      const options = this.map(value, `metrics.${name}`);
      if (!options) continue;
      this.keys(options, ["from", "to", "value", "max"], `metrics.${name}`);
      const max = options.has("max") ? this.duration(options.get("max")!.value, "max") : undefined;
      const measured = this.#measured(options, value);
      if (measured) {
        const metric: Metric = { name, ...measured, pos: this.#pos(value) };
        if (max !== undefined) metric.max = max;
        metrics.push(metric);
      }
    }
    return metrics;
  }

  /** What a metric measures: `value: STEP_ID.FIELD`, or `from` and `to` boundaries. */
  #measured(
    options: Entries,
    node: Node | null,
  ): { from: Edge; to: Edge } | { value: { step: string; field: string } } | undefined {
    const valueNode = options.get("value")?.value;
    if (valueNode === undefined) {
      const from = this.#edge(this.required(options, "from", node), "from");
      const to = this.#edge(this.required(options, "to", node), "to");
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
    this.#idRefs.push({ id: match[1]!, pos: this.#pos(valueNode) });
    return { value: { step: match[1]!, field: match[2]! } };
  }

  #edge(node: Node | null | undefined, what: string): Edge | undefined {
    const text = this.string(node, what);
    if (text === undefined) return undefined;
    const match = /^([A-Za-z][\w-]*)\.(start|end)$/.exec(text);
    if (!match) {
      return this.issue(node, `${what} must name STEP_ID.start or STEP_ID.end, not '${text}'`);
    }
    this.#idRefs.push({ id: match[1]!, pos: this.#pos(node) });
    return { step: match[1]!, edge: match[2] as "start" | "end" };
  }
}

/**
 * Anchors and aliases: every alias is replaced by the node it names (so
 * errors point at the anchor). One iterative walk in document order, which
 * does not walk into what it put in place: each node is visited once, where
 * it is written, and nothing grows however aliases nest.
 */
function resolveAliases(doc: Document): void {
  const anchors = new Map<string, unknown>();
  const stack: unknown[] = [doc.contents];
  const resolved = (alias: { source: string }) => anchors.get(alias.source) ?? alias;
  while (stack.length > 0) {
    const node = stack.pop() as { anchor?: string } | null;
    if (node?.anchor) anchors.set(node.anchor, node);
    const children: unknown[] = [];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isAlias(pair.value)) pair.value = resolved(pair.value);
        else children.push(pair.value);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (isAlias(item)) node.items[i] = resolved(item);
        else children.push(item);
      });
    }
    stack.push(...children.reverse());
  }
}

function kindOf(node: Node): string {
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return describe(node.value);
  return "something else";
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}
