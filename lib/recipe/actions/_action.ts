/**
 * The shape every recipe action has: one file per action under
 * `lib/recipe/actions/`, registered in `registry.ts`. An action says how it
 * is read from YAML (with positions for errors), what it needs of a VM,
 * whether it changes the VM, how it runs, and its JSON-schema fragment
 * (from which `docs/recipe.schema.json` is generated).
 */

import type { Node, Scalar } from "yaml";
import type { Vm } from "../../vm/vm.ts";
import type { ActionData, Pattern, Step, Template } from "../model.ts";

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

/** Cursors into a VM's event journal and console, for waits. */
export interface Marks {
  /** The event journal's cursor. */
  events: number;
  /** The console's cursor. */
  console: number;
}

/** What an action gets when it runs on one VM. */
export interface RunContext {
  /** The VM. */
  vm: Vm;
  /** Aborts at the step's deadline, the run's deadline, or Ctrl-C. */
  signal: AbortSignal;
  /** What is left of the step's deadline on this VM, in ms. */
  timeout: number;
  /** Waits count what came after these marks (the start of the previous step on the VM). */
  since: Marks;
  /** Text with `${{ vm.name }}` and `${{ seed }}` rendered for this VM. */
  render(template: Template): string;
  /** A JSON value whose `{ $template }` leaves are rendered for this VM. */
  renderValue(value: unknown): unknown;
  /** Tell the runner that the VM was started again (new connection, new console). */
  restarted(): void;
  /**
   * Tell the runner that the VM now runs in another QEMU (live-migrated):
   * the same journal, a new console.
   */
  replaced(): void;
}

/** What an action needs of the VMs it targets, checked before anything runs. */
export type Requirement = "console" | "launched" | "agent";

/** One kind of action. */
export interface ActionKind<A extends ActionData = ActionData> {
  /** The step key, e.g. `wait-event`. */
  key: string;
  /** One line for the docs and the schema. */
  summary: string;
  /** The JSON-schema fragment of the action's value. */
  schema: JsonSchema;
  /** Read the action's value; errors go through `tools`. */
  parse(tools: ParseTools, context: ParseContext): A | undefined;
  /** Whether the action changes the VM (read-only steps cannot make a fault). */
  mutates(action: A): boolean;
  /** What a target VM must have. */
  requires?(action: A): Requirement | undefined;
  /** A deadline of the action's own, shorter than the step's, in ms. */
  ownTimeout?(action: A): number | undefined;
  /** Do it on one VM; resolves to its output for the journal. */
  run(action: A, context: RunContext): Promise<unknown>;
}

/** Define an action kind (typed for its own data). */
export function defineAction<A extends ActionData>(kind: ActionKind<A>): ActionKind<A> {
  return kind;
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

/** Read `KEY: {}` (or nothing): an action without options. */
export function noOptions(tools: ParseTools, node: Node | null, key: string): ActionData {
  const options = tools.map(node, key, true);
  if (options) tools.keys(options, [], key);
  return { kind: key };
}

/**
 * An action with no options that calls one `Vm` method: `pause: {}`.
 */
export function simpleAction(
  key: string,
  summary: string,
  run: (vm: Vm, options: { timeout: number; signal: AbortSignal }) => Promise<unknown>,
  requires?: Requirement,
): ActionKind {
  return defineAction({
    key,
    summary,
    schema: NO_OPTIONS,
    parse: (tools, { node }) => noOptions(tools, node, key),
    mutates: () => true,
    requires: () => requires,
    run: (_action, { vm, timeout, signal }) => run(vm, { timeout, signal }),
  });
}
