/**
 * What a line typed into `corral shell` means: `command key=value a.b.c=1
 * list=[1,2] name="two words"`, a raw JSON request, or a built-in (`help`,
 * `wait`, `events`, `hmp`, `record`, …), optionally aimed at VMs with a
 * leading `@selector`. Errors point at the bad token's column.
 *
 * @module
 */

import { CorralError } from "../errors.ts";

/** A line that cannot be understood; `column` (1-based) points at the bad token. */
export class ShellSyntaxError extends CorralError {
  /** Where the problem starts, 1-based. */
  readonly column: number;

  /** Make an error at `column`. */
  constructor(message: string, column: number) {
    super(`column ${column}: ${message}`);
    this.column = column;
  }
}

/** One parsed line. */
export interface ShellLine {
  /** `@web*` before the command: the VMs it is for (default: the shell's first VM). */
  target?: string;
  /** The command or built-in name. */
  name: string;
  /** Arguments from `key=value` pairs (dotted keys nest), or the raw request's `arguments`. */
  args: Record<string, unknown>;
  /** Words that are not `key=value` (for built-ins: `help stop`, `hmp info status`). */
  words: string[];
  /** The rest of the line after the name, as typed (for `hmp`). */
  rest: string;
  /** Whether the line was a raw JSON request. */
  raw: boolean;
}

/** The built-in commands of the shell. */
export const BUILTINS = [
  "help",
  "wait",
  "events",
  "hmp",
  "record",
  "vms",
  "quit",
  "exit",
] as const;

/**
 * Parse one line; `undefined` for a blank line or a `#` comment.
 *
 * @throws {ShellSyntaxError} With the column of the bad token.
 *
 * @example
 * ```ts
 * import { parseLine } from "./parse.ts";
 * import assert from "node:assert/strict";
 *
 * const line = parseLine('@web* set-action panic=pause name="two words" a.b=[1,2]')!;
 * assert.equal(line.target, "web*");
 * assert.deepEqual(line.args, { panic: "pause", name: "two words", a: { b: [1, 2] } });
 * ```
 */
export function parseLine(text: string): ShellLine | undefined {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const offset = text.indexOf(trimmed);
  if (trimmed.startsWith("{")) return rawRequest(trimmed, offset);
  const tokens = tokenize(text);
  let target: string | undefined;
  if (tokens[0]?.text.startsWith("@")) {
    target = tokens.shift()!.text.slice(1);
    if (target === "") throw new ShellSyntaxError("@ needs a VM name, group or glob", offset + 1);
  }
  const head = tokens.shift();
  if (!head) throw new ShellSyntaxError("a command must follow the @selector", text.length + 1);
  const args: Record<string, unknown> = {};
  const words: string[] = [];
  for (const token of tokens) {
    const eq = token.quoted ? -1 : token.text.indexOf("=");
    if (eq <= 0) {
      words.push(token.text);
      continue;
    }
    const key = token.text.slice(0, eq);
    if (!/^[\w-]+(\.[\w-]+)*$/.test(key)) {
      throw new ShellSyntaxError(`'${key}' is not an argument name`, token.column);
    }
    setPath(args, key.split("."), value(token.text.slice(eq + 1), token.valueQuoted), token.column);
  }
  return {
    target,
    name: head.text,
    args,
    words,
    rest: text.slice(head.column - 1 + head.length).trim(),
    raw: false,
  };
}

interface Token {
  text: string;
  /** 1-based column where it starts. */
  column: number;
  /** Its length as typed. */
  length: number;
  /** The whole token was quoted. */
  quoted: boolean;
  /** The value after `=` was quoted: a string, never JSON. */
  valueQuoted: boolean;
}

/** Split at spaces outside quotes and brackets; quotes are removed. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    const start = i;
    let out = "";
    let depth = 0;
    let quotedWhole = text[i] === '"' || text[i] === "'";
    let valueQuoted = false;
    while (i < text.length && (depth > 0 || !/\s/.test(text[i]!))) {
      const c = text[i]!;
      if ((c === '"' || c === "'") && depth === 0) {
        if (out.endsWith("=")) valueQuoted = true;
        const end = closing(text, i);
        if (end === -1) throw new ShellSyntaxError(`unterminated ${c}`, i + 1);
        out += unquote(text.slice(i, end + 1), i + 1);
        i = end + 1;
        continue;
      }
      if (c === "[" || c === "{") depth++;
      else if (c === "]" || c === "}") depth--;
      else if ((c === '"') && depth > 0) {
        const end = closing(text, i);
        if (end === -1) throw new ShellSyntaxError('unterminated "', i + 1);
        out += text.slice(i, end + 1);
        i = end + 1;
        continue;
      }
      out += c;
      i++;
    }
    if (depth > 0) throw new ShellSyntaxError("unclosed [ or {", start + 1);
    quotedWhole &&= i === closing(text, start) + 1;
    tokens.push({
      text: out,
      column: start + 1,
      length: i - start,
      quoted: quotedWhole,
      valueQuoted,
    });
  }
  return tokens;
}

/** The index of the quote that closes the one at `start`, or -1. */
function closing(text: string, start: number): number {
  const quote = text[start]!;
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\" && quote === '"') i++;
    else if (text[i] === quote) return i;
  }
  return -1;
}

function unquote(quoted: string, column: number): string {
  if (quoted.startsWith("'")) return quoted.slice(1, -1);
  try {
    return JSON.parse(quoted);
  } catch {
    throw new ShellSyntaxError(`bad escape in ${quoted}`, column);
  }
}

/** A value: JSON when it reads as JSON (numbers, true, null, [..], {..}), else the text itself. */
function value(text: string, quoted: boolean): unknown {
  if (quoted) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown, column: number) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node = node[key] = {} as Record<string, unknown>;
    else if (next && typeof next === "object" && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else throw new ShellSyntaxError(`'${key}' is already a value, not an object`, column);
  }
  node[path.at(-1)!] = value;
}

function rawRequest(text: string, offset: number): ShellLine {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message);
    throw new ShellSyntaxError(
      `not JSON: ${(error as Error).message}`,
      offset + 1 + (at ? Number(at[1]) : 0),
    );
  }
  const request = message as Record<string, unknown>;
  const name = request.execute ?? request["exec-oob"];
  if (typeof name !== "string") {
    throw new ShellSyntaxError('a raw request needs "execute": NAME', offset + 1);
  }
  const args = request.arguments;
  if (args !== undefined && (typeof args !== "object" || args === null || Array.isArray(args))) {
    throw new ShellSyntaxError('"arguments" must be an object', offset + 1);
  }
  return {
    name,
    args: (args ?? {}) as Record<string, unknown>,
    words: [],
    rest: "",
    raw: true,
  };
}
