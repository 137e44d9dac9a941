/**
 * The recipe reader's watches: `invariants:` (events that must never come,
 * on which VMs, outside faults or everywhere) and `watch: { console }`
 * (lines no VM may print: a kernel panic, an Oops, an OOM kill).
 *
 * @module
 */

import type { Node } from "yaml";
import type { ConsoleWatch, Invariant } from "./model.ts";
import { StepsReader } from "./_steps_reader.ts";

/** The watches of a recipe. */
export class ChecksReader extends StepsReader {
  /** `invariants: [{ never: [EVENT…], on: SELECTOR, outside: faults }]`. */
  protected invariants(node: Node | null): Invariant[] {
    return this.list(node ?? undefined).flatMap((item, i) => {
      const where = `invariants[${i}]`;
      const options = this.map(item, where);
      if (!options) return [];
      this.keys(options, ["never", "on", "outside"], where);
      const never = this.list(this.required(options, "never", item)).map((n) => {
        const name = this.string(n, "never");
        if (name !== undefined && name !== name.toUpperCase()) {
          this.issue(n, `QMP event names are upper case: ${name.toUpperCase()}`);
        }
        return name;
      }).filter((n) => n !== undefined);
      const pos = this.pos(item);
      const on = this.selector(options.get("on")?.value ?? null, pos);
      return never.length ? [{ never, on, outsideFaults: this.outside(options, where), pos }] : [];
    });
  }

  /** `watch: { console: { fail: [PATTERN…], outside: faults } }`. */
  protected consoleWatch(node: Node | null): ConsoleWatch | undefined {
    const watch = this.map(node, "watch", true);
    if (!watch) return undefined;
    this.keys(watch, ["console"], "watch");
    const options = this.map(watch.get("console")?.value ?? null, "watch.console", true);
    if (!options) return undefined;
    this.keys(options, ["fail", "outside"], "watch.console");
    const fail = this.list(this.required(options, "fail", node)).map((p) => this.pattern(p, "fail"))
      .filter((p) => p !== undefined);
    const outsideFaults = this.outside(options, "watch.console");
    return { fail, outsideFaults, pos: this.pos(node) };
  }

  /** `outside: faults`, the one value it takes. */
  protected outside(options: Map<string, { value: Node | null }>, where: string): boolean {
    const node = options.get("outside")?.value;
    if (node === undefined) return false;
    return this.oneOf(node, `${where}.outside`, ["faults"] as const) === "faults";
  }
}
