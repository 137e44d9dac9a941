/**
 * Helpers the commands share for their arguments: paths from the user's
 * directory, `NAME=VALUE` pairs, whole numbers, the terminal's width.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const REPOSITORY = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/**
 * A path given on the command line, from the user's directory: under
 * `deno task` the process runs in the repository, and `INIT_CWD` is where
 * the user was.
 */
export function userPath(path: string | undefined): string | undefined {
  if (path === undefined || path.startsWith("/")) return path;
  // Only a `deno task` of this repository runs here with INIT_CWD set; an installed corral
  // runs where the user is, and an INIT_CWD inherited from elsewhere means nothing to it.
  const base = Deno.env.get("INIT_CWD");
  return base && Deno.cwd() === REPOSITORY ? `${base}/${path}` : path;
}

/** `NAME=VALUE` pairs of a repeatable flag. */
export function assignments(
  pairs: string[],
  flag: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([\w-]+)=(.*)$/s.exec(pair);
    if (match) out[match[1]!] = match[2]!;
    else problems.push(`${flag} ${pair.replace(/=.*/s, "=…")}: write ${flag} NAME=VALUE`);
  }
  return out;
}

/** A whole number flag within `min`..`max`, or a problem. */
export function wholeNumber(
  text: string | undefined,
  flag: string,
  min: number,
  max: number,
  problems: string[],
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(
    max === Infinity
      ? `${flag} ${text}: a positive whole number`
      : `${flag} ${text}: a whole number from ${min} to ${max}`,
  );
  return undefined;
}

/** The terminal's width, or 100 when it is not one. */
export function columns(stream: typeof Deno.stdout): number {
  try {
    return stream.isTerminal() ? Deno.consoleSize().columns : 100;
  } catch {
    return 100;
  }
}
