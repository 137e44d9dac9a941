/**
 * QEMU's own schema, read at run time with `query-qmp-schema`: check a
 * command and its arguments before sending them, with errors that name the
 * bad member and the type expected.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { didYouMean } from "../_suggest.ts";

/** One entry of `query-qmp-schema` (QEMU's `SchemaInfo`). */
export interface SchemaEntry {
  /** A command or event name; a number for masked type names. */
  name: string;
  /** What the entry is. */
  "meta-type": "builtin" | "enum" | "array" | "object" | "alternate" | "command" | "event";
  /** For a builtin: its JSON type. */
  "json-type"?: string;
  /** For a command or event: the type of its arguments or data. */
  "arg-type"?: string;
  /** For a command: the type it returns. */
  "ret-type"?: string;
  /** For a command: whether it may run out of band. */
  "allow-oob"?: boolean;
  /** For an array: the type of its elements. */
  "element-type"?: string;
  /** For an enum: its values. */
  values?: string[];
  /** For an object: its members (`default: null` marks an optional one); for an alternate: its choices. */
  members?: { name?: string; type?: string; default?: null; features?: string[] }[];
  /** For a union: the member that selects the variant. */
  tag?: string;
  /** For a union: the type of each case. */
  variants?: { case: string; type: string }[];
  /** Flags such as `deprecated`. */
  features?: string[];
}

/** A command or its arguments do not fit the VM's schema. */
export class SchemaError extends CorralError {
  /** Every problem found, one line each. */
  readonly problems: readonly string[];

  /** Make an error listing `problems`. */
  constructor(message: string, problems: readonly string[], options: { vm?: string } = {}) {
    super(message, options);
    this.problems = problems;
  }
}

/**
 * A QEMU schema with lookups and argument validation. Members and events
 * the schema does not know are never rejected anywhere but in `validate`.
 *
 * @example
 * ```ts
 * import { launch } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "schema", guest: "none" });
 * const schema = await vm.schema();
 * assert.deepEqual(schema.check("set-action", { panic: "puase" }), [
 *   `set-action: panic: "puase" is not one of pause, shutdown, exit-failure, none; did you mean "pause"?`,
 * ]);
 * ```
 */
export class QmpSchema {
  readonly #entries: Map<string, SchemaEntry>;
  readonly #commands: SchemaEntry[];
  readonly #events: SchemaEntry[];

  /** Index the entries of a `query-qmp-schema` reply. */
  constructor(entries: readonly SchemaEntry[]) {
    this.#entries = new Map(entries.map((entry) => [entry.name, entry]));
    this.#commands = entries.filter((entry) => entry["meta-type"] === "command");
    this.#events = entries.filter((entry) => entry["meta-type"] === "event");
  }

  /** Every entry, as QEMU listed them. */
  get entries(): SchemaEntry[] {
    return [...this.#entries.values()];
  }

  /** The command names. */
  get commands(): string[] {
    return this.#commands.map((entry) => entry.name);
  }

  /** The event names. */
  get events(): string[] {
    return this.#events.map((entry) => entry.name);
  }

  /** The entry named `name` (types are named by number). */
  get(name: string): SchemaEntry | undefined {
    return this.#entries.get(name);
  }

  /** Whether QEMU has the command. */
  hasCommand(name: string): boolean {
    return this.#entries.get(name)?.["meta-type"] === "command";
  }

  /**
   * Whether QEMU has `command` and, given `member`, that argument (a dotted
   * path such as `channels` or `arguments.inner` reaches into nested objects
   * and any union variant).
   */
  supports(command: string, member?: string): boolean {
    const entry = this.#entries.get(command);
    if (entry?.["meta-type"] !== "command") return false;
    if (member === undefined) return true;
    let type: string | undefined = entry["arg-type"];
    for (const name of member.split(".")) {
      const found: SchemaEntry["members"] = type ? this.#membersOf(type) : [];
      type = found.find((candidate) => candidate.name === name)?.type;
      if (type === undefined) return false;
    }
    return true;
  }

  /** An object's members with those of every variant (arrays are looked through). */
  #membersOf(type: string): NonNullable<SchemaEntry["members"]> {
    let entry = this.#entries.get(type);
    while (entry?.["meta-type"] === "array") entry = this.#entries.get(entry["element-type"]!);
    if (entry?.["meta-type"] !== "object") return [];
    return [
      ...entry.members!,
      ...(entry.variants ?? []).flatMap((variant) =>
        this.#entries.get(variant.type)?.members ?? []
      ),
    ];
  }

  /** The problems with sending `command` with `args`; empty when it fits. */
  check(command: string, args: Record<string, unknown> | undefined = undefined): string[] {
    const entry = this.#entries.get(command);
    if (entry?.["meta-type"] !== "command") {
      return [`${command}: no such command in this QEMU${didYouMean(command, this.commands)}`];
    }
    const problems: string[] = [];
    this.#checkValue(entry["arg-type"]!, args ?? {}, command, problems);
    return problems;
  }

  /**
   * Throw when `command` with `args` does not fit the schema.
   *
   * @throws {SchemaError} Listing every problem.
   */
  validate(command: string, args?: Record<string, unknown>, vm?: string): void {
    const problems = this.check(command, args);
    if (problems.length > 0) {
      throw new SchemaError(
        `${command} does not fit this QEMU's schema:\n  ${problems.join("\n  ")}`,
        problems,
        { vm },
      );
    }
  }

  /** A readable form of the type named `name`, e.g. `int`, `array of str`, `one of a, b`. */
  describe(name: string): string {
    const entry = this.#entries.get(name);
    if (!entry) return name;
    switch (entry["meta-type"]) {
      case "builtin":
        return entry.name;
      case "enum":
        return `one of ${entry.values!.join(", ")}`;
      case "array":
        return `array of ${this.describe(entry["element-type"]!)}`;
      case "alternate":
        return entry.members!.map((member) => this.describe(member.type!)).join(" or ");
      default:
        return "object";
    }
  }

  #checkValue(type: string, value: unknown, path: string, problems: string[]): void {
    const entry = this.#entries.get(type);
    if (!entry) return;
    const bad = () =>
      problems.push(`${path}: ${JSON.stringify(value)} is not ${withArticle(this.describe(type))}`);
    switch (entry["meta-type"]) {
      case "builtin":
        if (!fitsBuiltin(entry["json-type"]!, value)) bad();
        return;
      case "enum":
        if (typeof value !== "string" || !entry.values!.includes(value)) {
          problems.push(
            `${path}: ${JSON.stringify(value)} is not one of ${entry.values!.join(", ")}` +
              (typeof value === "string" ? didYouMean(value, entry.values!) : ""),
          );
        }
        return;
      case "array":
        if (!Array.isArray(value)) return void bad();
        value.forEach((item, index) =>
          this.#checkValue(entry["element-type"]!, item, `${path}[${index}]`, problems)
        );
        return;
      case "alternate":
        if (!entry.members!.some((member) => this.#fits(member.type!, value))) bad();
        return;
      case "object":
        if (typeof value !== "object" || value === null || Array.isArray(value)) return void bad();
        this.#checkObject(entry, value as Record<string, unknown>, path, problems);
    }
  }

  #checkObject(
    entry: SchemaEntry,
    value: Record<string, unknown>,
    path: string,
    problems: string[],
  ): void {
    const members = [...entry.members!];
    const tag = entry.tag;
    if (tag !== undefined && typeof value[tag] === "string") {
      const variant = entry.variants!.find((variant) => variant.case === value[tag]);
      if (variant) members.push(...(this.#entries.get(variant.type)?.members ?? []));
    }
    const known = new Set(members.map((member) => member.name!));
    for (const member of members) {
      const name = member.name!;
      if (!(name in value)) {
        if (member.default === undefined) {
          problems.push(`${path}: missing member '${name}' (${this.describe(member.type!)})`);
        }
        continue;
      }
      this.#checkValue(member.type!, value[name], `${path}: ${name}`, problems);
    }
    for (const name of Object.keys(value)) {
      if (!known.has(name)) {
        problems.push(`${path}: unknown member '${name}'${didYouMean(name, known)}`);
      }
    }
  }

  #fits(type: string, value: unknown): boolean {
    const problems: string[] = [];
    this.#checkValue(type, value, "", problems);
    return problems.length === 0;
  }
}

function fitsBuiltin(jsonType: string, value: unknown): boolean {
  switch (jsonType) {
    case "string":
      return typeof value === "string";
    case "int":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

function withArticle(description: string): string {
  if (/^(one of|array of)/.test(description) || description.includes(" or ")) return description;
  return /^[aeiou]/.test(description) ? `an ${description}` : `a ${description}`;
}
