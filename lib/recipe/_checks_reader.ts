/**
 * The recipe reader's watches: `invariants:` (events that must never come,
 * on which VMs, outside faults or everywhere) and `watch: { console }`
 * (lines no VM may print: a kernel panic, an Oops, an OOM kill).
 *
 * @module
 */

import type { Node } from "yaml";
import type { ConsoleWatch, Invariant } from "./model.ts";
import { ComposeReader } from "./_compose_reader.ts";

/** The events with which a VM leaves QEMU's running state. */
const LEAVE_RUNNING = ["STOP", "SUSPEND", "SHUTDOWN", "GUEST_PANICKED"];

/** The watches of a recipe. */
export class ChecksReader extends ComposeReader {
  /** `invariants: [{ never: [EVENT…] | status: running, on: SELECTOR, outside: faults }]`. */
  protected invariants(node: Node | null): Invariant[] {
    return this.list(node ?? undefined).flatMap((item, i) => {
      const where = `invariants[${i}]`;
      const options = this.map(item, where);
      if (!options) return [];
      this.keys(options, ["never", "status", "on", "outside"], where);
      const pos = this.pos(item);
      const on = this.selector(options.get("on")?.value ?? null, pos);
      const outsideFaults = this.outside(options, where);
      if (options.has("status") === options.has("never")) {
        this.issue(item, `${where}: give it never: [EVENT…] or status: running, one of them`);
        return [];
      }
      if (options.has("status")) {
        const status = this.oneOf(options.get("status")!.value, `${where}.status`, ["running"]);
        return status ? [{ never: LEAVE_RUNNING, status, on, outsideFaults, pos }] : [];
      }
      const never = this.list(options.get("never")!.value).map((n) => {
        const name = this.string(n, "never");
        if (name !== undefined && name !== name.toUpperCase()) {
          this.issue(n, `QMP event names are upper case: ${name.toUpperCase()}`);
        }
        return name;
      }).filter((n) => n !== undefined);
      return never.length ? [{ never, on, outsideFaults, pos }] : [];
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
