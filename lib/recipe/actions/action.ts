/**
 * The shape every recipe action has: one file per action under
 * `lib/recipe/actions/`, registered in `registry.ts`. An action says how it
 * is read from YAML (its options, stated once, give its parser and its
 * JSON-schema fragment, from which `docs/recipe.schema.json` is
 * generated), what it needs of a VM, whether it changes the VM, how it
 * runs, and the hooks the engine calls: `undo` (a fault's recovery),
 * `validate`, `checkLive` and `children`.
 *
 * @module
 */

import type { Vm } from "../../vm/vm.ts";
import type { ActionData, InventoryVm, Recipe, Step, Template } from "../model.ts";
import type { LabNetworks } from "../../vm/network.ts";
import {
  type Options,
  optionsSchema,
  type Parsed,
  readOptions,
  type Shape,
  type Values,
} from "./options.ts";
import type { Entries, JsonSchema, ParseContext, ParseTools } from "./parse_tools.ts";

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
  /** The lab around the VM: its networks, and its other VMs by selector. */
  lab: LabContext;
  /**
   * Keep what `undo` will need to heal this VM (a fault's handles), as soon
   * as the fault is applied: a run cut short after it still gets healed.
   */
  hold(value: unknown): void;
  /** Undo the faults still on this VM: those of step `id`, or all; resolves to how many. */
  heal(id?: string): Promise<number>;
}

/** What an action sees of the lab it runs in. */
export interface LabContext {
  /** The lab's networks (corral's switches), when the recipe declares some. */
  networks: LabNetworks | undefined;
  /** The VMs a selector picks (names, globs, groups, `all`), among those up. */
  select(selector: string): string[];
  /** The run's report directory, when it has one: files a step brings back go there. */
  reportDir?: string | undefined;
  /** The recipe file's folder: relative paths of files a step takes are read from there. */
  recipeDir?: string | undefined;
  /** Where `checkpoint` steps save the lab (`--checkpoints DIR`); absent when the run keeps none. */
  checkpoints?: CheckpointSink | undefined;
}

/** Saves the lab at a named checkpoint, with what the run knows (its recipe, plan, faults). */
export interface CheckpointSink {
  /** Save `vms` as checkpoint `name`; resolves to where, and how long the lab stood still. */
  save(name: string, vms: readonly Vm[], timeout: number): Promise<unknown>;
}

/** What an action that runs on all its targets at once gets. */
export interface TogetherContext {
  /** The step's target VMs. */
  vms: readonly Vm[];
  /** Aborts at the run's deadline, or Ctrl-C. */
  signal: AbortSignal;
  /** The step's deadline, in ms. */
  timeout: number;
  /** The lab around the VMs. */
  lab: LabContext;
}

/** What an action needs of the VMs it targets, checked before anything runs. */
export type Requirement = "console" | "launched" | "agent";

/** What an action's `validate` gets: the recipe around the step. */
export interface ValidateContext {
  /** The names of the recipe's hosts. */
  hosts: readonly string[];
  /** The names of the recipe's VMs. */
  vms: readonly string[];
  /** The ids of the steps whose action is a fault (heals by itself). */
  faults: readonly string[];
}

/** What an action's `undo` gets on one VM. */
export interface UndoContext {
  /** The VM the action ran on. */
  vm: Vm;
  /** What `run` resolved to, or `undefined` when it failed or was cut short. */
  output: unknown;
  /** What `run` kept with `hold`, or `undefined`. */
  held: unknown;
  /** The lab around the VM. */
  lab: LabContext;
  /** The undo's deadline (a fresh one: it runs after Ctrl-C too). */
  signal: AbortSignal;
  /** ms left of it. */
  timeout: number;
}

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
  /** Step keys besides its own that the action reads (a block's `rescue`, `always`, `serial`). */
  stepKeys?: readonly string[];
  /** Whether the action changes the VM (read-only steps cannot make a fault). */
  mutates(action: A): boolean;
  /** What a target VM must have. */
  requires?(action: A): Requirement | undefined;
  /**
   * Why `vm` cannot take the action (no lab network, no such disk), for
   * `check` and `plan` to say at the step's line; `undefined` when it can.
   */
  unfit?(action: A, vm: InventoryVm, recipe: Recipe): string | undefined;
  /** A deadline of the action's own, shorter than the step's, in ms. */
  ownTimeout?(action: A): number | undefined;
  /** The step lists it holds (control flow, like `block`): every walk of the step tree visits them. */
  children?(action: A): readonly (readonly Step[])[];
  /** A problem with the step in its recipe (a host not among `hosts`), found before anything runs. */
  validate?(action: A, context: ValidateContext): string | undefined;
  /** `check --live`: problems found by asking a real QEMU (commands and arguments it lacks). */
  checkLive?(action: A, vm: Vm): Promise<string[]>;
  /** Do it on one VM; resolves to its output for the journal. */
  run?(action: A, context: RunContext): Promise<unknown>;
  /**
   * Do it once on all the step's targets together, instead of `run` on each
   * (a checkpoint pauses every VM at one moment); resolves to the output
   * every target's record gets. Such an action cannot be a probe.
   */
  runTogether?(action: A, context: TogetherContext): Promise<unknown>;
  /**
   * Undo what `run` did (a fault's recovery). When an action has one, the
   * engine runs it on every VM the action started on — also where `run`
   * failed or was cut short, so it must cope with a half-done run — at the
   * end of the enclosing block (before its `always`) or of the steps
   * (before `finally`), on Ctrl-C and at the run's deadline too.
   */
  undo?(action: A, context: UndoContext): Promise<void>;
}

/** The parts of an action whose options are stated once, as {@linkcode Options}. */
export type OptionsAction<A extends ActionData, O extends Options> =
  & Omit<ActionKind<A>, "schema" | "parse">
  & {
    /** The options of the action's mapping; its parser and schema come from them. */
    options: O;
    /** How the mapping is shaped beyond its options (exactly one of some). */
    shape?: Shape;
    /**
     * The action's data from its options' values (errors through `tools`);
     * default: `{ kind: key, …values }` with the keys in camelCase. It runs
     * also when an option could not be read (its value is then `undefined`).
     */
    build?(values: Values<O>, tools: ParseTools, nodes: Entries): A | undefined;
  };

/**
 * Define an action kind (typed for its own data): with `options`, stated
 * once, from which its parser and schema come; or with its own `schema`
 * and `parse` (a value that is not a mapping, like `sleep: 2s`).
 *
 * @example An action from one file
 * ```ts
 * import { defineAction } from "./action.ts";
 * import { opt, required } from "./options.ts";
 *
 * export default defineAction({
 *   key: "say",
 *   summary: "type a line on the serial console",
 *   options: { text: required(opt.template("what to type")) },
 *   mutates: () => true,
 *   requires: () => "console",
 *   run: async (action, { vm, render }) => await vm.console.send(render(action.text) + "\n"),
 * });
 * ```
 */
export function defineAction<A extends ActionData>(kind: ActionKind<A>): ActionKind<A>;
export function defineAction<O extends Options, A extends ActionData = Parsed<O>>(
  kind: OptionsAction<A, O>,
): ActionKind<A>;
export function defineAction<A extends ActionData, O extends Options>(
  kind: ActionKind<A> | OptionsAction<A, O>,
): ActionKind<A> {
  if (!("options" in kind)) return kind;
  const { options, shape, build, ...rest } = kind;
  return {
    ...rest,
    schema: optionsSchema(options, shape),
    parse(tools, { node }) {
      const read = readOptions(tools, node, kind.key, options, shape);
      if (!read) return undefined;
      // build runs also after an option's error, so that its own checks are reported too.
      const action = build
        ? build(read.values, tools, read.nodes)
        : { kind: kind.key, ...camelCased(read.values) } as unknown as A;
      return read.ok ? action : undefined;
    },
  };
}

/** `{ "exit-code": 0 }` → `{ exitCode: 0 }`, leaving out what is undefined. */
function camelCased(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined).map((
      [key, value],
    ) => [key.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()), value]),
  );
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
    options: {},
    mutates: () => true,
    requires: () => requires,
    run: (_action, { vm, timeout, signal }) => run(vm, { timeout, signal }),
  });
}
