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
