/**
 * Tab completion for `corral shell`, from the live schema: command names,
 * argument names (nested with dots), enum values and booleans after `=`,
 * event names after `wait`, and VM names after `@`.
 *
 * @module
 */

import type { QmpSchema, SchemaEntry } from "../qmp/schema.ts";
import { BUILTINS } from "./parse.ts";

/** What completion knows of the session. */
export interface CompletionContext {
  /** The first VM's schema. */
  schema: QmpSchema;
  /** The shell's VM names and groups, for `@`. */
  targets: readonly string[];
}

/**
 * Candidates for the word being typed at the end of `line`, in the form
 * node:readline wants: `[candidates, the word they complete]`.
 *
 * @example
 * ```ts
 * import { complete } from "./complete.ts";
 * import { QmpSchema } from "../qmp/schema.ts";
 * import assert from "node:assert/strict";
 *
 * const schema = new QmpSchema([
 *   { name: "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0" },
 *   { name: "0", "meta-type": "object", members: [] },
 * ]);
 * assert.deepEqual(complete("query-s", { schema, targets: [] }), [["query-status "], "query-s"]);
 * ```
 */
export function complete(line: string, context: CompletionContext): [string[], string] {
  const words = line.split(/\s+/);
  const word = words.at(-1) ?? "";
  const before = words.slice(0, -1).filter(Boolean);
  if (before.length === 0 && word.startsWith("@")) {
    return [matching(context.targets.map((t) => `@${t} `), word), word];
  }
  if (before[0]?.startsWith("@")) before.shift();
  const { schema } = context;
  if (before.length === 0) {
    return [matching([...schema.commands, ...BUILTINS].map((name) => `${name} `), word), word];
  }
  const command = before[0]!;
  if (command === "help") return [matching(schema.commands, word), word];
  if (command === "wait" && before.length === 1) return [matching(schema.events, word), word];
  const entry = schema.get(command);
  if (entry?.["meta-type"] !== "command") return [[], word];
  const eq = word.indexOf("=");
  if (eq === -1) {
    // An argument name, possibly dotted: complete the last part among the members there.
    const path = word.split(".");
    const partial = path.pop()!;
    const type = resolve(schema, entry["arg-type"]!, path);
    const members = type ? membersOf(schema, type) : [];
    const prefix = path.length ? `${path.join(".")}.` : "";
    return [
      matching(
        members.map((m) => `${prefix}${m.name}${isObject(schema, m.type!) ? "." : "="}`),
        `${prefix}${partial}`,
      ),
      word,
    ];
  }
  const type = resolve(schema, entry["arg-type"]!, word.slice(0, eq).split("."));
  const values = type ? valuesOf(schema, type) : [];
  const key = word.slice(0, eq + 1);
  return [matching(values.map((v) => `${key}${v} `), word), word];
}

function matching(candidates: string[], word: string): string[] {
  return candidates.filter((candidate) => candidate.startsWith(word)).sort();
}

/** The type at a dotted member path from `type`. */
function resolve(schema: QmpSchema, type: string, path: string[]): string | undefined {
  let current: string | undefined = type;
  for (const name of path) {
    current = membersOf(schema, current).find((m) => m.name === name)?.type;
    if (current === undefined) return undefined;
  }
  return current;
}

function membersOf(schema: QmpSchema, type: string): NonNullable<SchemaEntry["members"]> {
  const entry = schema.get(type);
  if (entry?.["meta-type"] !== "object") return [];
  return [
    ...entry.members!,
    ...(entry.variants ?? []).flatMap((variant) => schema.get(variant.type)?.members ?? []),
  ].filter((m, i, all) => all.findIndex((n) => n.name === m.name) === i);
}

function isObject(schema: QmpSchema, type: string): boolean {
  return schema.get(type)?.["meta-type"] === "object";
}

function valuesOf(schema: QmpSchema, type: string): string[] {
  const entry = schema.get(type);
  if (entry?.["meta-type"] === "enum") return entry.values!;
  if (entry?.["meta-type"] === "builtin" && entry["json-type"] === "boolean") {
    return ["true", "false"];
  }
  if (entry?.["meta-type"] === "alternate") {
    return entry.members!.flatMap((m) => valuesOf(schema, m.type!));
  }
  return [];
}
