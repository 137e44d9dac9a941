/**
 * Steps made of other steps: `include: FILE` (the steps of another file,
 * with `vars:` passed in, its errors located in that file) and `loop:` on
 * a step (the step once per item, `${{ item }}` in it). Both are read
 * here, into plain steps: the engine never sees them.
 *
 * @module
 */

import { isMap, LineCounter, type Node } from "yaml";
import type { Entries } from "./actions/parse_tools.ts";
import type { Step } from "./model.ts";
import { StepsReader } from "./_steps_reader.ts";

/** How deep includes may nest (a file that includes itself is caught before). */
const MAX_INCLUDES = 8;
/** The most items a loop may have: a typo should not make a million steps. */
const MAX_ITEMS = 1000;

/** `include:` and `loop:` for the steps reader. */
export class ComposeReader extends StepsReader {
  #item: { value: unknown } | undefined;
  #itemUses = 0;
  #prefix = "";
  #including: string[] = [];

  protected override stepsOf(item: Node): Step[] {
    const entries = isMap(item) ? this.map(item, "a step") : undefined;
    if (entries?.has("include")) return this.#include(entries);
    if (entries?.has("loop") && this.#item === undefined) return this.#loop(item, entries);
    return super.stepsOf(item);
  }

  protected override stepName(written: string): string {
    if (this.#item === undefined) return this.#prefix + written;
    // A name with ${{ item }} in it (read first: the item was used) names each; one without
    // gets the item, to stay unique.
    const used = this.#itemUses > 0;
    return this.#prefix + (used ? written : `${written} (${this.itemRef("item")})`);
  }

  protected override itemRef(expr: string): string | undefined {
    if (this.#item === undefined) return undefined;
    this.#itemUses++;
    let value = this.#item.value;
    for (const key of expr.split(".").slice(1)) {
      value = typeof value === "object" && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined;
    }
    return value === undefined
      ? undefined
      : typeof value === "string"
      ? value
      : JSON.stringify(value);
  }

  /** The step once per item of its `loop:` (a list, or `${{ vars.NAME }}` holding one). */
  #loop(node: Node, entries: Entries): Step[] {
    const loopNode = entries.get("loop")!.value;
    const items = this.value(loopNode);
    if (!Array.isArray(items) || items.length > MAX_ITEMS) {
      this.issue(
        loopNode,
        `loop takes a list of at most ${MAX_ITEMS} items, or \${{ vars.NAME }} of one`,
      );
      return [];
    }
    return items.flatMap((value) => {
      this.#item = { value };
      this.#itemUses = 0;
      try {
        return super.stepsOf(node);
      } finally {
        this.#item = undefined;
      }
    });
  }

  /** `include: FILE` (from this file's folder), `name:` (its steps' prefix), `vars:` passed in. */
  #include(entries: Entries): Step[] {
    this.keys(entries, ["include", "name", "vars"], "an include");
    const file = this.string(entries.get("include")!.value, "include");
    if (file === undefined) return [];
    const path = file.startsWith("/")
      ? file
      : `${this.file.replace(/\/?[^/]*$/, "") || "."}/${file}`;
    const at = entries.get("include")!.value;
    if (this.#including.includes(path) || this.#including.length >= MAX_INCLUDES) {
      this.issue(at, `include: ${file} includes itself (through ${this.#including.join(" → ")})`);
      return [];
    }
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (error) {
      this.issue(at, `include: cannot read ${path}: ${(error as Error).message}`);
      return [];
    }
    const passed = this.#passedVars(entries.get("vars")?.value ?? null);
    const name = entries.has("name") ? this.string(entries.get("name")!.value, "name") : undefined;
    const saved = { file: this.file, lines: this.lines, vars: this.vars, prefix: this.#prefix };
    this.#including.push(path);
    this.file = path;
    this.lines = new LineCounter();
    try {
      const top = this.#readIncluded(text);
      if (!top) return [];
      const defaults = this.#passedVars(top.get("vars")?.value ?? null);
      this.vars = { ...saved.vars, ...defaults, ...passed };
      this.#prefix = `${saved.prefix}${
        name ?? path.replace(/^.*\//, "").replace(/\.ya?ml$/, "")
      }: `;
      return this.steps(top.get("steps")?.value ?? null, "steps");
    } finally {
      Object.assign(this, { file: saved.file, lines: saved.lines, vars: saved.vars });
      this.#prefix = saved.prefix;
      this.#including.pop();
    }
  }

  /** The included file's top: `vars:` (its defaults) and `steps:`, its errors at its lines. */
  #readIncluded(text: string): Entries | undefined {
    const root = this.readDocument(text);
    if (root === undefined) return undefined;
    const top = this.map(root, "an included file");
    if (top) this.keys(top, ["vars", "steps"], "an included file");
    return top;
  }

  /** `vars: { a: 1, b: "${{ vars.x }}" }`: each value read as a recipe's values are. */
  #passedVars(node: Node | null): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, { value }] of this.map(node, "vars", true) ?? []) out[key] = this.value(value);
    return out;
  }
}
