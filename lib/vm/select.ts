/**
 * Selectors: which VMs of an inventory a call or a recipe step acts on.
 *
 * A selector is a VM name, a group, a glob (`web*`), `all`, or a list of
 * those; within one string, `:` adds, `:&` intersects and `:!` removes, as
 * in Ansible (`all:!db1`, `web:&canary`).
 *
 * @module
 */

import { minimatch } from "minimatch";
import { CorralError } from "../errors.ts";
import { didYouMean } from "../_suggest.ts";

/** A VM as selectors see it. */
export interface Member {
  /** The VM's name. */
  name: string;
  /** The groups it belongs to. */
  groups: readonly string[];
}

/** One selector string or a list (a union) of them. */
export type Selector = string | readonly string[];

/** The longest glob accepted (the glob library refuses 65,536 and more). */
const MAX_GLOB = 1024;

/** A selector names no VM, or a VM or group that does not exist. */
export class SelectorError extends CorralError {}

/**
 * The names of the members `selector` picks, in inventory order.
 *
 * @throws {SelectorError} A name or group is unknown (with a did-you-mean),
 *   or a glob matches nothing.
 *
 * @example
 * ```ts
 * import { resolveSelector } from "./select.ts";
 * import assert from "node:assert/strict";
 *
 * const lab = [
 *   { name: "web1", groups: ["web"] },
 *   { name: "web2", groups: ["web"] },
 *   { name: "db1", groups: ["db"] },
 * ];
 * assert.deepEqual(resolveSelector("all:!db1", lab), ["web1", "web2"]);
 * assert.deepEqual(resolveSelector(["db", "web2"], lab), ["web2", "db1"]);
 * assert.deepEqual(resolveSelector("w*1", lab), ["web1"]);
 * ```
 */
export function resolveSelector(selector: Selector, members: readonly Member[]): string[] {
  const picked = new Set<string>();
  for (const text of typeof selector === "string" ? [selector] : selector) {
    for (const name of resolveOne(text, members)) picked.add(name);
  }
  return members.filter((member) => picked.has(member.name)).map((member) => member.name);
}

function resolveOne(text: string, members: readonly Member[]): Set<string> {
  const parts = text.split(":");
  let result = new Set<string>();
  for (const [index, raw] of parts.entries()) {
    const op = raw.startsWith("!") ? "remove" : raw.startsWith("&") ? "intersect" : "add";
    const term = op === "add" ? raw : raw.slice(1);
    if (index === 0 && op !== "add") {
      throw new SelectorError(
        `selector ${JSON.stringify(text)} starts with ${
          raw[0]
        }: put a set before it, e.g. all:${raw}`,
      );
    }
    const names = resolveTerm(term, text, members);
    if (op === "add") result = new Set([...result, ...names]);
    else if (op === "intersect") result = new Set([...result].filter((name) => names.has(name)));
    else result = new Set([...result].filter((name) => !names.has(name)));
  }
  return result;
}

function resolveTerm(term: string, text: string, members: readonly Member[]): Set<string> {
  if (term === "") throw new SelectorError(`selector ${JSON.stringify(text)} has an empty part`);
  if (term === "all") return new Set(members.map((member) => member.name));
  const byName = members.filter((member) => member.name === term);
  const byGroup = members.filter((member) => member.groups.includes(term));
  if (byName.length + byGroup.length > 0) {
    return new Set([...byName, ...byGroup].map((m) => m.name));
  }
  if (/[*?[]/.test(term)) {
    if (term.length > MAX_GLOB) {
      throw new SelectorError(
        `the glob ${JSON.stringify(term.slice(0, 40))}… is ${term.length} characters long: ` +
          `at most ${MAX_GLOB}`,
      );
    }
    const matched = members.filter((member) => minimatch(member.name, term));
    if (matched.length === 0) {
      throw new SelectorError(`selector ${JSON.stringify(term)} matches no VM`);
    }
    return new Set(matched.map((member) => member.name));
  }
  const known = [...members.map((m) => m.name), ...members.flatMap((m) => m.groups), "all"];
  throw new SelectorError(
    `${JSON.stringify(term)} is neither a VM nor a group${didYouMean(term, new Set(known))}`,
  );
}
