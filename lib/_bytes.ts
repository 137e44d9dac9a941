/** The SHA-256 of `text` (UTF-8), in hex: cache keys of what corral builds and saves. */
export async function sha256Hex(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One array holding `parts` end to end. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `bytes` as base64, in slices (a spread of a large array would overflow the stack). */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The bytes of base64 `data` (none for `undefined` or `""`). */
export function decodeBase64(data: string | undefined): Uint8Array {
  return data ? Uint8Array.from(atob(data), (c) => c.charCodeAt(0)) : new Uint8Array(0);
}
