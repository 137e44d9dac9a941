/** `"vm 'NAME': "`, or nothing when no VM is named: the start of a message. */
export function prefix(vm: string | undefined): string {
  return vm === undefined ? "" : `vm '${vm}': `;
}

/** `text` as one word for /bin/sh (commands on SSH hosts, QEMU's `exec:` migration URIs). */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A duration for messages: `250 ms`, `1.5 s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${+(ms / 1000).toFixed(2)} s`;
}

/**
 * `text` safe to show on a terminal and in XML: control characters (but
 * tab and line feed), DEL, C1 controls, bidirectional overrides and what
 * XML 1.0 forbids become visible escapes (`\x1b`, `\u202e`), so that text
 * from a guest or QEMU can neither move the cursor, retitle the terminal,
 * reorder a line nor break a JUnit file.
 */
export function printable(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
    },
  );
}

/** Color a run's progress line for a terminal: passes green, failures red, step heads bold. */
export function paintLine(line: string): string {
  if (line.startsWith("  ✓")) return `\x1b[32m${line}\x1b[0m`;
  if (line.startsWith("  ✗")) return `\x1b[31m${line}\x1b[0m`;
  if (line.startsWith("▶")) return `\x1b[1m${line}\x1b[0m`;
  return line;
}
