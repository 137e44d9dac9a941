/**
 * The recipe reader's tools: YAML mappings, scalars and lists read with
 * their positions, `${{ vars.X }}` expanded, every problem kept as a
 * `RecipeIssue` at its line and column. Actions parse their values with
 * these (see `actions/parse_tools.ts`).
 *
 * @module
 */

import {
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
import { MAX_TIMER_MS } from "../_async.ts";
import { MAX_DEPTH, resolveAliases, shallowEnough } from "./_yaml_doc.ts";
import { formatMs } from "../_text.ts";
import { didYouMean } from "../_suggest.ts";
import type { Entries, ParseTools } from "./actions/parse_tools.ts";
import { parseDuration } from "./duration.ts";
import { type InventoryVm, type Pattern, type Pos, type Step, type Template } from "./model.ts";

/** One problem in a recipe, with where it is. */
export interface RecipeIssue {
  /** Where the problem is. */
  pos: Pos;
  /** What is wrong, and what to write instead when that is known. */
  message: string;
}

const REF = /\$\{\{\s*([^}]*?)\s*\}\}/g;

/** The reader's tools and what every section shares: the issues, the variables, the inventory. */
export abstract class YamlTools implements ParseTools {
  issues: RecipeIssue[] = [];
  protected file: string;
  protected lines = new LineCounter();
  protected vars: Record<string, unknown> = {};
  protected secrets = new Set<string>();
  protected inventory: InventoryVm[] = [];
  /**
   * While the inventory is read its addresses are not known yet: an
   * address reference stays as written, and is filled in once every VM has
   * its place on its networks (`expandAddresses`).
   */
  protected deferAddresses = false;

  /**
   * `text` (of `this.file`) as a YAML document whose aliases are resolved and
   * whose nesting is bounded — its root — or `undefined` with its problems
   * at their lines. A recipe and a file it includes go through here alike.
   */
  protected readDocument(text: string): Node | null | undefined {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, merge: true });
    for (const error of doc.errors) {
      const message = error.message.split("\n")[0]!;
      this.issues.push({
        pos: { file: this.file, ...this.lines.linePos(error.pos[0]) },
        message: /call stack/i.test(message)
          ? `nested too deeply to read (a recipe nests at most ${MAX_DEPTH} levels)`
          : message,
      });
    }
    if (doc.errors.length > 0) return undefined;
    resolveAliases(doc);
    const root = doc.contents as Node | null;
    return shallowEnough(root, (node, message) => this.issue(node, message)) ? root : undefined;
  }

  protected pos(node: Node | null | undefined): Pos {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  issue(node: Node | null | undefined, message: string): undefined {
    this.issues.push({ pos: this.pos(node), message });
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
  protected value(node: Node | null | undefined): unknown {
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
    const whole = template.length === 1 ? this.wholeVar(node) : undefined;
    return whole !== undefined ? whole : template.join("");
  }

  /** `item` or `item.a.b` of the loop being read, as text; `undefined` outside a loop. */
  protected itemRef(_expr: string): string | undefined {
    return undefined;
  }

  protected wholeVar(node: Scalar): unknown {
    const match = /^\$\{\{\s*vars\.([\w-]+)\s*\}\}$/.exec(String(node.value));
    return match ? this.vars[match[1]!] : undefined;
  }

  /** A string with references: vars expand now, vm.name and seed at run time. */
  template(node: Node | null | undefined): Template | undefined {
    if (node === undefined) return undefined; // a missing required key: reported already
    if (!node || !isScalar(node)) return this.issue(node, "expected text");
    const text = String(node.value);
    const parts: Template[number][] = [];
    let last = 0;
    let ok = true;
    for (const match of text.matchAll(REF)) {
      parts.push(text.slice(last, match.index));
      last = match.index! + match[0].length;
      const expr = match[1]!;
      const variable = /^vars\.([\w-]+)$/.exec(expr);
      const address = /^vms\.([\w.-]+)\.address\.([\w-]+)$/.exec(expr);
      const forward = /^vms\.([\w.-]+)\.forward\.(\d{1,5})$/.exec(expr);
      if (forward) {
        if (this.inventory.some((v) => v.name === forward[1])) {
          parts.push({ ref: "forward", vm: forward[1]!, port: Number(forward[2]) });
        } else {
          this.issue(
            node,
            `no VM '${forward[1]}'${didYouMean(forward[1]!, this.inventory.map((v) => v.name))}`,
          );
          ok = false;
        }
      } else if (address && this.deferAddresses) parts.push(match[0]);
      else if (address) {
        const vm = this.inventory.find((v) => v.name === address[1]);
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
                didYouMean(address[1]!, this.inventory.map((v) => v.name))
              }`,
          );
          ok = false;
        }
      } else if (variable) {
        if (!(variable[1]! in this.vars)) {
          this.issue(
            node,
            `unknown variable '${variable[1]}'${didYouMean(variable[1]!, Object.keys(this.vars))}`,
          );
          ok = false;
        } else parts.push(String(this.vars[variable[1]!]));
      } else if (expr === "vm.name" || expr === "seed") parts.push({ ref: expr });
      else if (/^item(\.[\w-]+)*$/.test(expr)) {
        const item = this.itemRef(expr);
        if (item === undefined) {
          this.issue(node, `${match[0]} is the item of a step with loop: and only there`);
          ok = false;
        } else parts.push(item);
      } else if (/^steps\.[\w-]+\.targets$/.test(expr)) {
        this.issue(node, `${match[0]} is a list of VMs: use it as the whole value of 'on'`);
        ok = false;
      } else {
        this.issue(
          node,
          `unknown reference ${
            match[0]
          }: use vars.NAME, steps.ID.targets, vms.NAME.address.NETWORK, vms.NAME.forward.PORT, vm.name or seed`,
        );
        ok = false;
      }
    }
    parts.push(text.slice(last));
    const merged: Template[number][] = [];
    for (const part of parts) {
      const previous = merged[merged.length - 1];
      if (typeof part === "string" && typeof previous === "string") {
        merged[merged.length - 1] = previous + part;
      } else if (part !== "") merged.push(part);
    }
    return ok ? merged : undefined;
  }

  string(node: Node | null | undefined, what: string): string | undefined {
    const value = this.value(node);
    if (typeof value === "string" && value !== "") return value;
    if (value !== undefined) this.issue(node, `${what} must be text, not ${describe(value)}`);
    return undefined;
  }

  protected positiveInt(node: Node | null | undefined, what: string): number | undefined {
    const value = this.value(node);
    const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof number === "number" && Number.isInteger(number) && number > 0) return number;
    if (value !== undefined) {
      this.issue(node, `${what} must be a positive whole number, not ${describe(value)}`);
    }
    return undefined;
  }

  duration(node: Node | null | undefined, what: string): number | undefined {
    const value = this.value(node);
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
    const value = this.value(node);
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
    const value = this.value(node);
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

  /** A nested YAML value as JSON, with vars expanded in its strings. */
  json(node: Node | null, what: string): unknown {
    if (node === null) return null;
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === "string" && value.includes("${{")) {
        const template = this.template(node);
        if (!template) return undefined;
        if (template.every((part) => typeof part === "string")) return this.value(node);
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

  constructor(file: string) {
    this.file = file;
  }

  /** A list of steps (see `StepsReader`). */
  abstract steps(node: Node | null | undefined, where: string): Step[];
}

/** What a YAML node holds, for messages. */
export function kindOf(node: Node): string {
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return describe(node.value);
  return "something else";
}

/** A value, for messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}
