/** `"vm 'NAME': "`, or nothing when no VM is named: the start of a message. */
export function prefix(vm: string | undefined): string {
  return vm === undefined ? "" : `vm '${vm}': `;
}

/** A duration for messages: `250 ms`, `1.5 s`. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${+(ms / 1000).toFixed(2)} s`;
}
