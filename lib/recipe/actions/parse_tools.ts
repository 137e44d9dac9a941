/**
 * What the recipe reader offers an action's parser: mapping, scalar and
 * list readers that record their errors at the YAML node they read, and
 * the schema fragments of common values.
 *
 * @module
 */

import type { Node, Scalar } from "yaml";
import type { Pattern, Step, Template } from "../model.ts";

/** A mapping's entries by key, with the key node for positions. */
export type Entries = Map<string, { key: Scalar; value: Node | null }>;

/** A JSON-schema fragment. */
export type JsonSchema = Record<string, unknown>;

/** What the recipe reader offers an action's `parse`; each helper records its own errors. */
export interface ParseTools {
  /** A mapping (or `undefined`, with an error unless `optional`). */
  map(node: Node | null | undefined, what: string, optional?: boolean): Entries | undefined;
  /** Report keys not in `allowed`, with a did-you-mean. */
  keys(entries: Entries, allowed: readonly string[], where: string): void;
  /** The value of a required key (an error when it is missing). */
  required(entries: Entries, key: string, parent: Node | null): Node | null | undefined;
  /** Non-empty text. */
  string(node: Node | null | undefined, what: string): string | undefined;
  /** A duration in ms (within the timer range). */
  duration(node: Node | null | undefined, what: string): number | undefined;
  /** true or false. */
  bool(node: Node | null | undefined, what: string): boolean | undefined;
  /** A list's items (a lone value is a list of one). */
  list(node: Node | null | undefined): Node[];
  /** One of `values`. */
  oneOf<T extends string>(
    node: Node | null | undefined,
    what: string,
    values: readonly T[],
  ): T | undefined;
  /** A console pattern: text, or `/regex/flags`. */
  pattern(node: Node | null | undefined, what: string): Pattern | undefined;
  /** Text with `${{ … }}` references. */
  template(node: Node | null | undefined): Template | undefined;
  /** A nested value as JSON, templates kept as `{ $template }` leaves. */
  json(node: Node | null, what: string): unknown;
  /** Report a problem at `node`. */
  issue(node: Node | null | undefined, message: string): undefined;
  /** A list of steps. */
  steps(node: Node | null | undefined, where: string): Step[];
}

/** Where a step stands when an action's `parse` runs. */
export interface ParseContext {
  /** The action's own value, e.g. the mapping under `qmp:`. */
  node: Node | null;
  /** Every key of the step (a block reads `rescue` and `always`). */
  step: Entries;
  /** The step's node, for errors about the whole step. */
  stepNode: Node;
}

/** The schema of an action that takes no options: `{}` or nothing. */
export const NO_OPTIONS: JsonSchema = { type: ["object", "null"], additionalProperties: false };

/** A duration in the schema. */
export const DURATION_SCHEMA: JsonSchema = {
  description: "a duration: 500ms, 20s, 2m, 1h, or a number of seconds",
  anyOf: [
    { type: "string", pattern: "^(\\d+(\\.\\d+)?\\s*(ms|s|m|h)|\\$\\{\\{.*\\}\\})$" },
    { type: "number", minimum: 0 },
  ],
};

/** A console pattern in the schema. */
export const PATTERN_SCHEMA: JsonSchema = {
  type: "string",
  description: "a substring, or /regex/flags",
};
