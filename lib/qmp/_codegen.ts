/**
 * From the `query-qmp-schema` replies of several QEMU versions to one set
 * of TypeScript types and a Markdown reference that describe them all.
 * QEMU masks the names of non-command types as numbers, so each type is
 * named after its first user: `QueryStatusReturn`, `GuestPanickedData`,
 * `SetActionArgumentsPanic`. A command, event, member or enum value that
 * some of the versions lack is marked with the versions that have it, and
 * a member is required only where every version that has its type requires
 * it: nothing is required that a supported QEMU does not send.
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

// ---- one version: a model with readable names --------------------------------------------

interface Member {
  name: string;
  type: string;
  optional: boolean;
  deprecated: boolean;
  /** For the reference: a short description of the type. */
  describe: string;
}

type Decl =
  | { kind: "enum"; about: string; values: string[] }
  | { kind: "alternate"; about: string; choices: string[] }
  | {
    kind: "object";
    about: string;
    members: Member[];
    tag?: string;
    variants?: { case: string; type?: string; members: Member[] }[];
  };

interface Operation {
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

interface Model {
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

function model(input: CodegenInput): Model {
  const entries = new Map(input.entries.map((entry) => [entry.name, entry]));
  const namer = new Namer(entries);
  const commands = input.entries.filter((entry) => entry["meta-type"] === "command");
  const events = input.entries.filter((entry) => entry["meta-type"] === "event");
  for (const command of commands) {
    namer.visit(
      command["arg-type"]!,
      `${pascal(command.name)}Arguments`,
      `the arguments of \`${command.name}\``,
    );
    namer.visit(
      command["ret-type"]!,
      `${pascal(command.name)}Return`,
      `what \`${command.name}\` returns`,
    );
  }
  for (const event of events) {
    namer.visit(
      event["arg-type"]!,
      `${pascal(event.name)}Data`,
      `the data of the \`${event.name}\` event`,
    );
  }
  const ref = (type: string): string => {
    const entry = entries.get(type);
    if (!entry) return "unknown";
    const named = namer.get(type);
    if (named) return named;
    if (entry["meta-type"] === "builtin") return BUILTIN[entry["json-type"]!] ?? "unknown";
    if (entry["meta-type"] === "array") {
      const element = ref(entry["element-type"]!);
      return /^[\w<>, ]+$/.test(element) ? `${element}[]` : `(${element})[]`;
    }
    return "Record<string, never>";
  };
  const describe = (type: string): string => {
    const entry = entries.get(type);
    if (!entry) return "?";
    switch (entry["meta-type"]) {
      case "builtin":
        return entry.name;
      case "enum":
        return entry.values!.map((v) => `\`${v}\``).join(" \\| ");
      case "array":
        return `array of ${describe(entry["element-type"]!)}`;
      case "alternate":
        return entry.members!.map((m) => describe(m.type!)).join(" or ");
      default:
        return entry.members?.length ? "object" : "{}";
    }
  };
  const membersOf = (entry: SchemaEntry | undefined): Member[] =>
    (entry?.members ?? []).filter((m) => m.name !== entry!.tag || !entry!.variants).map((m) => ({
      name: m.name!,
      type: ref(m.type!),
      optional: m.default !== undefined,
      deprecated: m.features?.includes("deprecated") ?? false,
      describe: describe(m.type!),
    }));
  const types = new Map<string, Decl>();
  for (const entry of input.entries) {
    const name = namer.get(entry.name);
    if (!name || types.has(name)) continue;
    const about = namer.about(entry.name)!;
    if (entry["meta-type"] === "enum") {
      types.set(name, { kind: "enum", about, values: entry.values! });
    } else if (entry["meta-type"] === "alternate") {
      types.set(name, {
        kind: "alternate",
        about,
        choices: entry.members!.map((m) => ref(m.type!)),
      });
    } else if (entry["meta-type"] === "object") {
      const decl: Decl = { kind: "object", about, members: membersOf(entry) };
      if (entry.variants) {
        decl.tag = entry.tag!;
        // The tag itself is listed for the reference, with its enum.
        decl.members = membersOf({ ...entry, variants: undefined });
        decl.variants = entry.variants.map((variant) => {
          const target = entries.get(variant.type);
          const hasMembers = (target?.members?.length ?? 0) > 0;
          return {
            case: variant.case,
            type: hasMembers ? ref(variant.type) : undefined,
            members: membersOf(target),
          };
        });
      }
      types.set(name, decl);
    }
  }
  const operation = (entry: SchemaEntry): Operation => {
    const args = entries.get(entry["arg-type"]!);
    const hasInput = (args?.members?.length ?? 0) > 0 || args?.variants !== undefined;
    return {
      input: hasInput ? ref(entry["arg-type"]!) : undefined,
      inputOptional: !hasInput ||
        (args!.members!.every((m) => m.default !== undefined) && !args!.variants),
      output: entry["ret-type"] ? ref(entry["ret-type"]) : undefined,
      outputDescribe: entry["ret-type"] ? describe(entry["ret-type"]) : undefined,
      oob: entry["allow-oob"] ?? false,
      deprecated: entry.features?.includes("deprecated") ?? false,
    };
  };
  return {
    release: release(input.version),
    types,
    commands: new Map(commands.map((c) => [c.name, operation(c)])),
    events: new Map(events.map((e) => [e.name, operation(e)])),
  };
}

// ---- several versions: merged, each part knowing where it exists --------------------------

/** Where something exists, among the supported releases (sorted oldest first). */
class Releases {
  readonly all: string[];

  constructor(all: string[]) {
    this.all = all;
  }

  /** `""` when every release has it; else a note such as `since QEMU 10.0`. */
  note(present: readonly string[]): string {
    if (present.length === this.all.length) return "";
    const first = this.all.indexOf(present[0]!);
    const contiguous = present.every((r, i) => this.all[first + i] === r);
    if (contiguous && first + present.length === this.all.length) return `since QEMU ${present[0]}`;
    if (contiguous && first === 0) {
      return `absent in QEMU ${this.all[present.length]} and later`;
    }
    return `only in QEMU ${present.join(", ")}`;
  }
}

/** Keyed values from several releases: for each key, the releases that have it, in order. */
function presence<T>(
  sources: readonly { release: string; entries: Iterable<[string, T]> }[],
): Map<string, { release: string; value: T }[]> {
  const out = new Map<string, { release: string; value: T }[]>();
  for (const { release, entries } of sources) {
    for (const [key, value] of entries) {
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push({ release, value });
    }
  }
  return out;
}

/** {@linkcode presence} of one part of every model. */
function gather<T>(
  models: Model[],
  pick: (model: Model) => Map<string, T>,
): Map<string, { release: string; value: T }[]> {
  return presence(models.map((m) => ({ release: m.release, entries: pick(m) })));
}

function union(types: Iterable<string>): string {
  const distinct = [...new Set(types)];
  return distinct.length === 1 ? distinct[0]! : distinct.join(" | ");
}

interface MergedMember extends Member {
  present: string[];
}

/** Members of one type across the releases that have the type. */
function mergeMembers(lists: { release: string; value: Member[] }[]): MergedMember[] {
  const byName = new Map<string, MergedMember>();
  const types = new Map<string, string[]>();
  for (const { release, value } of lists) {
    for (const member of value) {
      const seen = byName.get(member.name);
      if (!seen) {
        byName.set(member.name, { ...member, present: [release] });
        types.set(member.name, [member.type]);
        continue;
      }
      seen.present.push(release);
      seen.optional ||= member.optional;
      seen.deprecated ||= member.deprecated;
      types.get(member.name)!.push(member.type);
    }
  }
  for (const member of byName.values()) {
    member.type = union(types.get(member.name)!);
    // Required only where every release that has the type requires (and so sends) it.
    if (member.present.length < lists.length) member.optional = true;
  }
  return [...byName.values()];
}

// ---- TypeScript ---------------------------------------------------------------------------

/**
 * The TypeScript module for the schemas of several QEMU releases (one is
 * fine): a named type for each object, enum and alternate; `QmpCommandMap`
 * (arguments and return of each command) and `QmpEventMap` (data of each
 * event). What some releases lack is marked in its doc comment.
 */
export function generateTypes(inputs: readonly CodegenInput[]): string {
  const models = sortedModels(inputs);
  const releases = new Releases(models.map((m) => m.release));
  const versions = inputs.map((input) => input.version);
  const out: string[] = [
    `// Generated by \`deno task gen-types\` from QEMU ${versions.join(" and ")}: do not edit.`,
    "",
    "/**",
    ` * QMP types of QEMU ${releases.all.join(" and ")}, generated from their own`,
    " * `query-qmp-schema`. What some of these releases lack says so in its doc comment,",
    " * and nothing is required that one of them does not send. QEMU masks the names of",
    " * its types, so each is named after its first user; later users share it.",
    " *",
    " * @module",
    " */",
    "",
    `/** The QEMU releases these types describe, oldest first. */`,
    `export const QAPI_QEMU_RELEASES = ${JSON.stringify(releases.all)} as const;`,
    "",
    `/** The exact QEMU versions the schemas were read from. */`,
    `export const QAPI_QEMU_VERSIONS = ${JSON.stringify(versions)} as const;`,
    "",
  ];
  for (const [name, found] of gather(models, (m) => m.types)) {
    out.push(...declaration(name, found, releases), "");
  }
  out.push("/** Each command's arguments and return value. */", "export interface QmpCommandMap {");
  for (const [name, found] of gather(models, (m) => m.commands)) {
    const optional = found.every(({ value }) => value.inputOptional);
    const input = found.some(({ value }) => value.input)
      ? union(found.flatMap(({ value }) => value.input ? [value.input] : []))
      : "Record<string, never>";
    out.push(
      `  ${operationDoc(name, found, releases)}`,
      `  ${JSON.stringify(name)}: {`,
      `    arguments: ${input}${optional ? " | undefined" : ""};`,
      `    return: ${union(found.map(({ value }) => value.output ?? "unknown"))};`,
      `  };`,
    );
  }
  out.push("}", "");
  out.push(
    "/** Each event's data (`undefined` for events that carry none). */",
    "export interface QmpEventMap {",
  );
  for (const [name, found] of gather(models, (m) => m.events)) {
    const data = found.some(({ value }) => value.input)
      ? union(found.map(({ value }) => value.input ?? "undefined"))
      : "undefined";
    out.push(`  ${operationDoc(name, found, releases)}`, `  ${quote(name)}: ${data};`);
  }
  out.push("}", "");
  return out.join("\n");
}

function sortedModels(inputs: readonly CodegenInput[]): Model[] {
  const order = (release: string) => release.split(".").map(Number);
  return inputs.map(model).sort((a, b) => {
    const [x, y] = [order(a.release), order(b.release)];
    return x[0]! - y[0]! || x[1]! - y[1]!;
  });
}

function declaration(
  name: string,
  found: { release: string; value: Decl }[],
  releases: Releases,
): string[] {
  const newest = found[found.length - 1]!.value;
  const where = releases.note(found.map((f) => f.release));
  const doc = (extra: string[]) => {
    const text = `${newest.about[0]!.toUpperCase()}${newest.about.slice(1)}.`;
    const notes = [where ? `${capital(where)}.` : "", ...extra].filter(Boolean);
    return notes.length === 0
      ? [`/** ${text} */`]
      : ["/**", ` * ${text}`, ...notes.map((n) => ` * ${n}`), " */"];
  };
  const same = found.filter((f) => f.value.kind === newest.kind).map((f) => f.value);
  if (newest.kind === "enum") {
    const values = presence(
      found.filter((f) => f.value.kind === "enum").map((f) => ({
        release: f.release,
        entries: (f.value as { values: string[] }).values.map((v) => [v, true] as [string, true]),
      })),
    );
    const present = found.map((f) => f.release);
    const notes = [...values].flatMap(([value, where]) => {
      const note = new Releases(present).note(where.map((w) => w.release));
      return note ? [`\`${JSON.stringify(value)}\`: ${note}.`] : [];
    });
    return [
      ...doc(notes),
      `export type ${name} =\n${
        [...values.keys()].map((v) => `  | ${JSON.stringify(v)}`).join("\n")
      };`,
    ];
  }
  if (newest.kind === "alternate") {
    const choices = union(same.flatMap((d) => (d as { choices: string[] }).choices)).split(" | ");
    return [...doc([]), `export type ${name} =\n${choices.map((c) => `  | ${c}`).join("\n")};`];
  }
  const objects = found.filter((f) => f.value.kind === "object") as {
    release: string;
    value: Extract<Decl, { kind: "object" }>;
  }[];
  const members = mergeMembers(
    objects.map((o) => ({ release: o.release, value: o.value.members })),
  );
  const within = new Releases(objects.map((o) => o.release));
  const body = members
    .filter((member) => member.name !== newest.tag)
    .map((member) => memberLine(member, within))
    .join("");
  if (!newest.tag) return [...doc([]), `export interface ${name} {\n${body}}`];
  const cases = presence(
    objects.map((o) => ({
      release: o.release,
      entries: (o.value.variants ?? []).map((v) =>
        [v.case, v.type] as [string, string | undefined]
      ),
    })),
  );
  const caseNotes: string[] = [];
  const lines = [...cases].map(([tagCase, where]) => {
    const note = within.note(where.map((w) => w.release));
    if (note) caseNotes.push(`\`${newest.tag}: ${JSON.stringify(tagCase)}\`: ${note}.`);
    const types = where.flatMap((w) => w.value ? [w.value] : []);
    const tag = `{ ${quote(newest.tag!)}: ${JSON.stringify(tagCase)} }`;
    return `  | (${tag}${
      types.length > 0
        ? ` & ${union(types).includes(" | ") ? `(${union(types)})` : union(types)}`
        : ""
    })`;
  });
  // The tag's own type is the enum of all cases; each case narrows it.
  if (body === "") return [...doc(caseNotes), `export type ${name} =\n${lines.join("\n")};`];
  return [
    ...doc(caseNotes),
    `export type ${name} =\n  & {\n${indent(body)}  }\n  & (\n${
      lines.map((c) => `  ${c}`).join("\n")
    }\n  );`,
  ];
}

function memberLine(member: MergedMember, within: Releases): string {
  const notes = [
    `\`${member.name}\`: ${member.describe.replaceAll("\\|", "|")}${
      member.optional ? ", optional" : ""
    }.`,
    within.note(member.present) ? `${capital(within.note(member.present))}.` : "",
    member.deprecated ? "@deprecated" : "",
  ].filter(Boolean);
  return `  /** ${notes.join(" ")} */\n  ${quote(member.name)}${
    member.optional ? "?" : ""
  }: ${member.type};\n`;
}

function operationDoc(
  name: string,
  found: { release: string; value: Operation }[],
  releases: Releases,
): string {
  const where = releases.note(found.map((f) => f.release));
  const notes = [
    found.some(({ value }) => value.oob) ? "may run out of band" : "",
    where,
    found.every(({ value }) => value.deprecated) ? "@deprecated" : "",
  ].filter(Boolean);
  return `/** ${[`\`${name}\``, ...notes].join(" · ")} */`;
}

// ---- Markdown -----------------------------------------------------------------------------

/**
 * A Markdown reference of every command and event of the given releases:
 * arguments (with types and optionality), return value, data, and which
 * releases have each command, event and member. QEMU's introspection
 * carries no documentation, so there is none here.
 */
export function generateReference(inputs: readonly CodegenInput[]): string {
  const models = sortedModels(inputs);
  const releases = new Releases(models.map((m) => m.release));
  const types = gather(models, (m) => m.types);
  const table = (typeName: string | undefined): string[] => {
    const found = typeName ? types.get(typeName) : undefined;
    const objects = (found ?? []).filter((f) => f.value.kind === "object") as {
      release: string;
      value: Extract<Decl, { kind: "object" }>;
    }[];
    const within = new Releases(objects.map((o) => o.release));
    const rows = mergeMembers(objects.map((o) => ({ release: o.release, value: o.value.members })))
      .map((m) =>
        `| \`${m.name}\` | ${m.describe} | ${m.optional ? "optional" : "required"}${
          m.deprecated ? ", deprecated" : ""
        }${within.note(m.present) ? `, ${within.note(m.present)}` : ""} |`
      );
    const tag = objects.at(-1)?.value.tag;
    const variants = presence(
      objects.map((o) => ({
        release: o.release,
        entries: (o.value.variants ?? []).map((v) => [v.case, v.members] as [string, Member[]]),
      })),
    );
    for (const [tagCase, where] of variants) {
      for (const m of mergeMembers(where.map((w) => ({ release: w.release, value: w.value })))) {
        rows.push(
          `| \`${m.name}\` | ${m.describe} | when \`${tag}\` is \`${tagCase}\`${
            m.optional ? ", optional" : ""
          } |`,
        );
      }
    }
    return rows.length === 0 ? ["none"] : ["| member | type | |", "| --- | --- | --- |", ...rows];
  };
  const out = [
    `# QMP reference: QEMU ${releases.all.join(" and ")}`,
    "",
    `Generated by \`deno task gen-types\` from the \`query-qmp-schema\` of QEMU ${
      inputs.map((i) => i.version).join(" and ")
    }. What some of these releases lack says which have it. Types marked \`object\` are described`,
    "where they first appear in `lib/qmp/qapi.ts`. QEMU's introspection carries no descriptions.",
    "",
    "## Commands",
    "",
  ];
  for (const [name, found] of gather(models, (m) => m.commands)) {
    out.push(`### \`${name}\``, "");
    const where = releases.note(found.map((f) => f.release));
    if (where) out.push(`${capital(where)}.`, "");
    if (found.some(({ value }) => value.oob)) out.push("May run out of band (`exec-oob`).", "");
    const newest = found.at(-1)!.value;
    out.push("Arguments:", "", ...table(newest.input), "");
    const returns = newest.output && types.get(newest.output)?.at(-1)?.value.kind === "object"
      ? table(newest.output)
      : [`\`${newest.outputDescribe}\``];
    out.push("Returns:", "", ...returns, "");
  }
  out.push("## Events", "");
  for (const [name, found] of gather(models, (m) => m.events)) {
    out.push(`### \`${name}\``, "");
    const where = releases.note(found.map((f) => f.release));
    if (where) out.push(`${capital(where)}.`, "");
    out.push("Data:", "", ...table(found.at(-1)!.value.input), "");
  }
  return out.join("\n");
}

// ---- helpers ------------------------------------------------------------------------------

function capital(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}

function indent(text: string): string {
  return text.split("\n").map((line) => (line ? `  ${line}` : line)).join("\n");
}

function quote(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
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
