/**
 * The shape of a `corral` command: one file per command under
 * `lib/cli/commands/`, registered in `commands/registry.ts`. A command
 * says its name, its help, the flags it takes and how it runs; the
 * dispatcher, `--help` and the shell completions come from that.
 *
 * @module
 */

import type { ParseArgsConfig } from "node:util";

/** The flags a command takes, as `node:util` `parseArgs` reads them. */
export type Flags = NonNullable<ParseArgsConfig["options"]>;

/** The parsed flag values. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What a command gets when it runs. */
export interface CommandContext {
  /** The flags given, by name (defaults applied). */
  values: FlagValues;
  /** The words that are not flags. */
  positionals: string[];
  /** Every command of this `corral`, for commands about commands (completions). */
  commands: readonly Command[];
}

/** One `corral` command. */
export interface Command {
  /** The word after `corral`. */
  name: string;
  /** Its arguments for the overview, e.g. `RECIPE [options]`. */
  synopsis: string;
  /** The whole `--help` text, starting with `usage:`. */
  usage: string;
  /** The flags it takes (`-h, --help` is added for every command). */
  flags: Flags;
  /** Run it; resolves to the exit code. */
  run(context: CommandContext): Promise<number>;
}

/**
 * Define a command (the identity: it types the definition).
 *
 * @example
 * ```ts
 * import { defineCommand } from "./command.ts";
 * import assert from "node:assert/strict";
 *
 * const hello = defineCommand({
 *   name: "hello",
 *   synopsis: "NAME",
 *   usage: "usage: corral hello NAME",
 *   flags: {},
 *   run: ({ positionals }) => Promise.resolve(positionals.length === 1 ? 0 : 2),
 * });
 * assert.equal(hello.name, "hello");
 * ```
 */
export function defineCommand(command: Command): Command {
  return command;
}

/** A text flag of the context (`undefined` when not given). */
export function text(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** A boolean flag of the context. */
export function flag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}

/** A repeatable text flag of the context. */
export function texts(values: FlagValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
