/**
 * One QEMU version's schema as a model with readable names: QEMU masks the
 * names of non-command types as numbers, so each type is named after its
 * first user (`QueryStatusReturn`, `GuestPanickedData`).
 *
 * @module
 */

import type { SchemaEntry } from "./schema.ts";

/** One QEMU's schema. */
export interface CodegenInput {
  entries: readonly SchemaEntry[];
  /** QEMU's version text, e.g. `7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. */
  version: string;
}

const BUILTIN: Record<string, string> = {
  string: "string",
  int: "number",
  number: "number",
  boolean: "boolean",
  null: "null",
  value: "unknown",
  object: "Record<string, unknown>",
};

/** `7.2.22 (Debian …)` → `7.2`: the release users name. */
export function release(version: string): string {
  return version.split(/[ .]/).slice(0, 2).join(".");
}

export interface Member {
  name: string;
  type: string;
  optional: boolean;
  deprecated: boolean;
  /** For the reference: a short description of the type. */
  describe: string;
}

export type Decl =
  | { kind: "enum"; about: string; values: string[] }
  | { kind: "alternate"; about: string; choices: string[] }
  | {
    kind: "object";
    about: string;
    members: Member[];
    tag?: string;
    variants?: { case: string; type?: string; members: Member[] }[];
  };

export interface Operation {
  /** Arguments (commands) or data (events): a type name, or undefined when empty. */
  input?: string;
  /** Whether the arguments may be left out. */
  inputOptional: boolean;
  /** The return type (commands). */
  output?: string;
  /** The return type for the reference. */
  outputDescribe?: string;
  oob: boolean;
  deprecated: boolean;
}

export interface Model {
  release: string;
  types: Map<string, Decl>;
  commands: Map<string, Operation>;
  events: Map<string, Operation>;
}

/** Readable names for the masked types, by first use. */
class Namer {
  #names = new Map<string, string>();
  #about = new Map<string, string>();
  #taken = new Set<string>();
  #entries: Map<string, SchemaEntry>;

  constructor(entries: Map<string, SchemaEntry>) {
    this.#entries = entries;
  }

  /** Name `type` (and what it contains) after `path`, unless already named; `about` says where it is first used. */
  visit(type: string, path: string, about: string): void {
    const entry = this.#entries.get(type);
    if (!entry || this.#names.has(type)) return;
    const kind = entry["meta-type"];
    if (kind === "builtin") return;
    if (kind === "array") {
      return this.visit(entry["element-type"]!, `${path}Item`, `An element of ${about}`);
    }
    if (kind === "object" && entry.members!.length === 0 && !entry.variants) return;
    if (kind === "alternate") {
      entry.members!.forEach((member, i) =>
        this.visit(member.type!, `${path}Choice${i + 1}`, `Choice ${i + 1} of ${about}`)
      );
    }
    let name = path;
    for (let n = 2; this.#taken.has(name); n++) name = `${path}${n}`;
    this.#names.set(type, name);
    this.#about.set(type, about);
    this.#taken.add(name);
    for (const member of entry.members ?? []) {
      if (member.name !== undefined) {
        this.visit(
          member.type!,
          `${name}${pascal(member.name)}`,
          `\`${member.name}\` of {@linkcode ${name}}`,
        );
      }
    }
    for (const variant of entry.variants ?? []) {
      this.visit(
        variant.type,
        `${name}${pascal(variant.case)}`,
        `the members of {@linkcode ${name}} when \`${entry.tag}\` is \`${variant.case}\``,
      );
    }
  }

  about(type: string): string | undefined {
    return this.#about.get(type);
  }

  get(type: string): string | undefined {
    return this.#names.get(type);
  }
}

/** One version's schema read into a model: names, declarations, commands and events. */
class ModelReader {
  #entries: Map<string, SchemaEntry>;
  #namer: Namer;

  constructor(entries: readonly SchemaEntry[]) {
    this.#entries = new Map(entries.map((entry) => [entry.name, entry]));
    this.#namer = new Namer(this.#entries);
  }

  /** Name every type after its first user: a command's arguments and return, an event's data. */
  nameAll(commands: readonly SchemaEntry[], events: readonly SchemaEntry[]): void {
    for (const command of commands) {
      this.#namer.visit(
        command["arg-type"]!,
        `${pascal(command.name)}Arguments`,
        `the arguments of \`${command.name}\``,
      );
      this.#namer.visit(
        command["ret-type"]!,
        `${pascal(command.name)}Return`,
        `what \`${command.name}\` returns`,
      );
    }
    for (const event of events) {
      this.#namer.visit(
        event["arg-type"]!,
        `${pascal(event.name)}Data`,
        `the data of the \`${event.name}\` event`,
      );
    }
  }

  /** The TypeScript type that refers to `type`. */
  ref(type: string): string {
    const entry = this.#entries.get(type);
    if (!entry) return "unknown";
    const named = this.#namer.get(type);
    if (named) return named;
    if (entry["meta-type"] === "builtin") return BUILTIN[entry["json-type"]!] ?? "unknown";
    if (entry["meta-type"] === "array") {
      const element = this.ref(entry["element-type"]!);
      return /^[\w<>, ]+$/.test(element) ? `${element}[]` : `(${element})[]`;
    }
    return "Record<string, never>";
  }

  /** A short description of `type`, for the reference. */
  describe(type: string): string {
    const entry = this.#entries.get(type);
    if (!entry) return "?";
    switch (entry["meta-type"]) {
      case "builtin":
        return entry.name;
      case "enum":
        return entry.values!.map((v) => `\`${v}\``).join(" \\| ");
      case "array":
        return `array of ${this.describe(entry["element-type"]!)}`;
      case "alternate":
        return entry.members!.map((m) => this.describe(m.type!)).join(" or ");
      default:
        return entry.members?.length ? "object" : "{}";
    }
  }

  /** An object's members (its tag left out where variants list it). */
  membersOf(entry: SchemaEntry | undefined): Member[] {
    return (entry?.members ?? []).filter((m) => m.name !== entry!.tag || !entry!.variants).map((
      m,
    ) => ({
      name: m.name!,
      type: this.ref(m.type!),
      optional: m.default !== undefined,
      deprecated: m.features?.includes("deprecated") ?? false,
      describe: this.describe(m.type!),
    }));
  }

  /** Every named type's declaration. */
  declarations(all: readonly SchemaEntry[]): Map<string, Decl> {
    const types = new Map<string, Decl>();
    for (const entry of all) {
      const name = this.#namer.get(entry.name);
      if (!name || types.has(name)) continue;
      const decl = this.#declaration(entry, this.#namer.about(entry.name)!);
      if (decl) types.set(name, decl);
    }
    return types;
  }

  #declaration(entry: SchemaEntry, about: string): Decl | undefined {
    if (entry["meta-type"] === "enum") return { kind: "enum", about, values: entry.values! };
    if (entry["meta-type"] === "alternate") {
      return { kind: "alternate", about, choices: entry.members!.map((m) => this.ref(m.type!)) };
    }
    if (entry["meta-type"] !== "object") return undefined;
    const decl: Decl = { kind: "object", about, members: this.membersOf(entry) };
    if (entry.variants) {
      decl.tag = entry.tag!;
      // The tag itself is listed for the reference, with its enum.
      decl.members = this.membersOf({ ...entry, variants: undefined });
      decl.variants = entry.variants.map((variant) => {
        const target = this.#entries.get(variant.type);
        const hasMembers = (target?.members?.length ?? 0) > 0;
        return {
          case: variant.case,
          type: hasMembers ? this.ref(variant.type) : undefined,
          members: this.membersOf(target),
        };
      });
    }
    return decl;
  }

  /** A command's or event's arguments and return. */
  operation(entry: SchemaEntry): Operation {
    const args = this.#entries.get(entry["arg-type"]!);
    const hasInput = (args?.members?.length ?? 0) > 0 || args?.variants !== undefined;
    return {
      input: hasInput ? this.ref(entry["arg-type"]!) : undefined,
      inputOptional: !hasInput ||
        (args!.members!.every((m) => m.default !== undefined) && !args!.variants),
      output: entry["ret-type"] ? this.ref(entry["ret-type"]) : undefined,
      outputDescribe: entry["ret-type"] ? this.describe(entry["ret-type"]) : undefined,
      oob: entry["allow-oob"] ?? false,
      deprecated: entry.features?.includes("deprecated") ?? false,
    };
  }
}

/** One version's model. */
export function model(input: CodegenInput): Model {
  const commands = input.entries.filter((entry) => entry["meta-type"] === "command");
  const events = input.entries.filter((entry) => entry["meta-type"] === "event");
  const reader = new ModelReader(input.entries);
  reader.nameAll(commands, events);
  return {
    release: release(input.version),
    types: reader.declarations(input.entries),
    commands: new Map(commands.map((c) => [c.name, reader.operation(c)])),
    events: new Map(events.map((e) => [e.name, reader.operation(e)])),
  };
}

/** `query-status` → `QueryStatus`, `GUEST_PANICKED` → `GuestPanicked`, `x-foo` → `XFoo`. */
export function pascal(name: string): string {
  return name
    .split(/[-_.\s]+/)
    .filter(Boolean)
    .map((part) =>
      part[0]!.toUpperCase() +
      (part === part.toUpperCase() ? part.slice(1).toLowerCase() : part.slice(1))
    )
    .join("");
}
