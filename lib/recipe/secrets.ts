/**
 * Secrets: which recipe variables hold them, and masking their values
 * everywhere a run writes (terminal, `--json`, every report file). Values
 * are masked before anything is serialized, and in text in their raw and
 * JSON-escaped forms, whatever characters they hold and however short.
 * Only strings are changed: a secret number is masked where its digits
 * appear in text, never in a number value.
 *
 * @module
 */

/** Words that make a variable's name secret: `api_key`, `DB_PASSWORD`, `apiToken` (not `keyboard`). */
const SECRET_WORDS = new Set([
  "pass",
  "passwd",
  "password",
  "passphrase",
  "secret",
  "secrets",
  "token",
  "tokens",
  "key",
  "keys",
]);

/**
 * Whether a variable's name says it holds a secret: one of its words (split
 * at `_`, `-`, `.`, digits and camelCase) is pass, password, secret, token
 * or key.
 *
 * @example
 * ```ts
 * import { isSecretName } from "./secrets.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(isSecretName("api_key"));
 * assert.ok(isSecretName("DB_PASSWORD"));
 * assert.ok(isSecretName("githubToken"));
 * assert.ok(!isSecretName("keyboard"));
 * ```
 */
export function isSecretName(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z]+/);
  return words.some((word) => SECRET_WORDS.has(word));
}

/** The mask that replaces a secret. */
export const MASK = "***";

/**
 * Masks secret values in text and in JSON-able values.
 *
 * @example
 * ```ts
 * import { Redactor } from "./secrets.ts";
 * import assert from "node:assert/strict";
 *
 * const redact = new Redactor({ db_password: 'Pa"ss\\word9', seed: 1234 }, ["db_password"]);
 * assert.equal(redact.text('login Pa"ss\\word9'), "login ***");
 * assert.deepEqual(redact.value({ args: ['Pa"ss\\word9'], seed: 1234, ok: false }), {
 *   args: ["***"],
 *   seed: 1234,
 *   ok: false,
 * });
 * ```
 */
export class Redactor {
  /** The secret texts, longest first (so a secret inside another is not half-masked). */
  #texts: string[];
  #short: number;

  /**
   * Secrets are the values of the variables named in `secretNames`. A
   * `true`, `false` or empty value hides nothing and is not masked (it would
   * only garble every report).
   */
  constructor(vars: Record<string, unknown>, secretNames: Iterable<string>) {
    const values = [...new Set(secretNames)].filter((name) => name in vars)
      .map((name) => vars[name])
      .filter((value) => typeof value === "string" || typeof value === "number")
      .map(String)
      .filter((value) => value !== "");
    const texts = new Set<string>();
    for (const text of values) {
      texts.add(text);
      texts.add(JSON.stringify(text).slice(1, -1)); // as it appears inside JSON text
    }
    this.#texts = [...texts].sort((a, b) => b.length - a.length);
    this.#short = new Set(values.filter((value) => value.length < 3)).size;
  }

  /** Whether there is anything to mask. */
  get active(): boolean {
    return this.#texts.length > 0;
  }

  /** Secrets so short that masking them will also mask ordinary text. */
  get short(): number {
    return this.#short;
  }

  /** `text` with every secret replaced by `***`. */
  text(text: string): string {
    let out = text;
    for (const secret of this.#texts) out = out.replaceAll(secret, MASK);
    return out;
  }

  /**
   * A copy of a JSON-able value with secrets masked in every string (keys
   * included), before it is serialized; numbers, booleans and null are never
   * changed, so the structure always survives.
   */
  value<T>(value: T): T {
    return this.active ? this.#mask(value) as T : value;
  }

  #mask(value: unknown): unknown {
    if (typeof value === "string") return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.#mask(item));
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.text(key), this.#mask(item)]),
      );
    }
    return value;
  }
}
