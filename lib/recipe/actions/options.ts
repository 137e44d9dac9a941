/**
 * An action's options, stated once: each option says how it is read from
 * YAML and its JSON-schema fragment, so the parser and `recipe.schema.json`
 * come from the same line and cannot drift apart.
 *
 * @module
 */

import { isScalar, type Node } from "yaml";
import type { Pattern, Template } from "../model.ts";
import {
  DURATION_SCHEMA,
  type Entries,
  type JsonSchema,
  type ParseTools,
  PATTERN_SCHEMA,
} from "./parse_tools.ts";

/** One option: its schema, how it is read, and whether it must be given or has a default. */
export interface Option<T, Has extends boolean = boolean> {
  /** The option's JSON-schema fragment. */
  readonly schema: JsonSchema;
  /** `"required"`: the mapping must have it; `"default"`: a value when it is left out. */
  readonly presence?: "required" | "default";
  /** With presence `"default"`: the value. */
  readonly fallback?: T;
  /** Read the option's value; errors go through `tools`. */
  read(tools: ParseTools, node: Node | null, key: string): T | undefined;
  /** Only for typing: whether the option always has a value. */
  readonly has?: Has;
}

/** A mapping of option names (as written in YAML) to options. */
export type Options = Record<string, Option<unknown>>;

/** The values an action's options were read to: `undefined` for one left out. */
export type Values<O extends Options> = {
  [K in keyof O]: O[K] extends Option<infer T, true> ? T
    : O[K] extends Option<infer T> ? T | undefined
    : never;
};

/** `exit-code` → `exitCode`. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}`
  : S;

/** An action's data as read from its options by default: the values, keys in camelCase. */
export type Parsed<O extends Options> =
  & { kind: string }
  & {
    -readonly [K in keyof Values<O> as Camel<K & string>]: Values<O>[K];
  };

const described = (schema: JsonSchema, description?: string): JsonSchema =>
  description === undefined ? schema : { ...schema, description };

/** An option read by one of the parse tools. */
function option<T>(
  schema: JsonSchema,
  read: (tools: ParseTools, node: Node | null, key: string) => T | undefined,
  description?: string,
): Option<T, false> {
  return { schema: described(schema, description), read };
}

const PERCENT = /^(\d+(?:\.\d+)?)\s*%?$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGT]?)$/i;
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** A percentage from 0 to 100: `5%`, `0.5%`, or a number. */
export function readPercent(tools: ParseTools, node: Node | null, key: string): number | undefined {
  const value = tools.json(node, key);
  const n = Number(typeof value === "number" ? value : PERCENT.exec(String(value))?.[1]);
  return n >= 0 && n <= 100
    ? n
    : tools.issue(node, `${key} must be a percentage from 0 to 100, like 5%`);
}

/** A reader of bytes (`1G`, `500M`, `512K`, or a number), saying `what` they are when they are not. */
const bytesReader = (what: string) =>
(
  tools: ParseTools,
  node: Node | null,
  key: string,
): number | undefined => {
  const value = tools.json(node, key);
  const match = typeof value === "string" ? SIZE.exec(value.trim()) : null;
  const bytes = typeof value === "number"
    ? value
    : match
    ? Number(match[1]) * SIZE_UNITS[match[2]!.toUpperCase()]!
    : NaN;
  if (Number.isFinite(bytes) && bytes >= 1) return Math.round(bytes);
  return tools.issue(node, `${key} must be ${what}, not ${JSON.stringify(value)}`);
};
const BYTES_SCHEMA = {
  anyOf: [{ type: "string", pattern: SIZE.source }, { type: "number", minimum: 1 }],
};

/** Builders for the kinds of option actions take. */
export const opt = {
  /** Non-empty text. */
  string: (description?: string, schema: JsonSchema = {}) =>
    option<string>({ type: "string", ...schema }, (t, n, k) => t.string(n, k), description),
  /** Text with `${{ … }}` references. */
  template: (description?: string) =>
    option<Template>({ type: "string" }, (t, n) => t.template(n), description),
  /** A duration in ms: `500ms`, `20s`, `2m`. */
  duration: (description?: string) =>
    option<number>(DURATION_SCHEMA, (t, n, k) => t.duration(n, k), description),
  /** A whole number from `min` (to `max`), `what` saying so when it is not. */
  integer: (min: number, max: number | undefined, what: string, description?: string) =>
    option<number>({
      type: "integer",
      minimum: min,
      ...(max === undefined ? {} : { maximum: max }),
    }, (tools, node, key) => {
      const n = tools.json(node, key);
      return Number.isInteger(n) && (n as number) >= min && (n as number) <= (max ?? Infinity)
        ? n as number
        : tools.issue(node, `${key} must be ${what}`);
    }, description),
  /** true or false. */
  bool: (description?: string) =>
    option<boolean>({ type: "boolean" }, (t, n, k) => t.bool(n, k), description),
  /** One of `values`. */
  oneOf: <T extends string>(values: readonly T[], description?: string) =>
    option<T>({ enum: [...values] }, (t, n, k) => t.oneOf(n, k, values), description),
  /** A console pattern: text or `/regex/flags`. */
  pattern: (description?: string) =>
    option<Pattern>(PATTERN_SCHEMA, (t, n, k) => t.pattern(n, k), description),
  /** Patterns: one, or a list. */
  patterns: (description?: string) =>
    option<Pattern[]>(
      { anyOf: [PATTERN_SCHEMA, { type: "array", items: PATTERN_SCHEMA }] },
      (t, n, k) => t.list(n).map((item) => t.pattern(item, k)).filter((p) => p !== undefined),
      description,
    ),
  /** Any value as JSON (templates kept as `{ $template }` leaves), checked by `check`. */
  json: <T = unknown>(
    schema: JsonSchema,
    check?: (value: unknown) => string | undefined,
    description?: string,
  ) =>
    option<T>(schema, (tools, node, key) => {
      const value = tools.json(node, key);
      const problem = check?.(value);
      return problem === undefined ? value as T : tools.issue(node, problem);
    }, description),
  /** A percentage from 0 to 100: `5%`. */
  percent: (description?: string) =>
    option<number>(
      {
        anyOf: [{ type: "number", minimum: 0, maximum: 100 }, {
          type: "string",
          pattern: PERCENT.source,
        }],
      },
      readPercent,
      description,
    ),
  /** Bytes per second: `1G`, `500M`, or a number. */
  bytesPerSecond: (description?: string) =>
    option<number>(BYTES_SCHEMA, bytesReader("bytes per second like 1G or 500M"), description),
  /** A size in bytes: `64M`, `1G`, or a number. */
  bytes: (description?: string) =>
    option<number>(BYTES_SCHEMA, bytesReader("a size like 64M or 1G"), description),
  /** An option with its own reader. */
  custom: <T>(schema: JsonSchema, read: Option<T>["read"]) => option<T>(schema, read),
};

/** The option, which the mapping must have. */
export function required<T>(option: Option<T>): Option<T, true> {
  return { ...option, presence: "required" } as Option<T, true>;
}

/** The option, with `value` when it is left out. */
export function withDefault<T>(option: Option<T>, value: T): Option<T, true> {
  return {
    ...option,
    presence: "default",
    fallback: value,
    schema: { ...option.schema, default: value },
  } as Option<T, true>;
}

/** How an action's options mapping is shaped beyond its options. */
export interface Shape {
  /** Exactly one of these options must be given (`console: wait | send | exec`). */
  exactlyOne?: readonly string[];
}

/** The JSON-schema fragment of a mapping of `options`. */
export function optionsSchema(options: Options, shape: Shape = {}): JsonSchema {
  const required = Object.entries(options).filter(([, o]) => o.presence === "required")
    .map(([key]) => key);
  const schema: JsonSchema = {
    type: mayBeEmpty(options, shape) ? ["object", "null"] : "object",
    additionalProperties: false,
    ...(required.length ? { required } : {}),
    properties: Object.fromEntries(Object.entries(options).map(([k, o]) => [k, o.schema])),
  };
  if (shape.exactlyOne) schema.oneOf = shape.exactlyOne.map((key) => ({ required: [key] }));
  return schema;
}

/**
 * Read `node` as the mapping of `options` under `key`: unknown keys, missing
 * required ones and the shape are errors at their place.
 *
 * @returns The values (`undefined` where an option could not be read), each
 *   given option's node, and whether all was well; `undefined` when the
 *   mapping itself could not be read.
 */
export function readOptions<O extends Options>(
  tools: ParseTools,
  node: Node | null,
  key: string,
  options: O,
  shape: Shape = {},
): { values: Values<O>; nodes: Entries; ok: boolean } | undefined {
  const entries = tools.map(node, key, mayBeEmpty(options, shape));
  const empty = node === null || (isScalar(node) && node.value === null);
  if (!entries && !(empty && mayBeEmpty(options, shape))) return undefined;
  const given = entries ?? new Map();
  tools.keys(given, Object.keys(options), key);
  if (shape.exactlyOne) {
    const chosen = shape.exactlyOne.filter((name) => given.has(name));
    if (chosen.length !== 1) {
      const names = shape.exactlyOne.join(", ").replace(/, ([^,]*)$/, " or $1");
      return tools.issue(
        node,
        `${key} takes exactly one of ${names}${
          chosen.length ? `, not ${chosen.join(" and ")}` : ""
        }`,
      );
    }
  }
  let ok = true;
  const values: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(options)) {
    const entry = given.get(name);
    if (entry === undefined) {
      if (option.presence === "required") {
        tools.required(given, name, node); // says it is missing
        ok = false;
      }
      values[name] = option.fallback;
      continue;
    }
    values[name] = option.read(tools, entry.value, name);
    if (values[name] === undefined) ok = false;
  }
  return { values: values as Values<O>, nodes: given, ok };
}

/** Whether the mapping may be left out or empty (no option must be given). */
function mayBeEmpty(options: Options, shape: Shape): boolean {
  return !shape.exactlyOne && Object.values(options).every((o) => o.presence !== "required");
}

/** `value` without its undefined members (an action's data holds only what was given). */
export function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
