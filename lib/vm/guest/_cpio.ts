import { concat } from "../../_bytes.ts";

/** One entry of a cpio archive. */
export interface CpioEntry {
  /** The path inside the archive, without a leading `/`. */
  path: string;
  /** The full mode: type and permissions (`0o100755` a file, `0o040755` a directory, `0o120777` a symlink, `0o020600` a character device). */
  mode: number;
  /** A file's bytes, or a symlink's target. */
  data?: Uint8Array;
  /** A device's major and minor number. */
  rdev?: [number, number];
}

/**
 * A cpio archive in the "newc" format the Linux kernel unpacks as an
 * initramfs: every entry owned by root, device nodes included (no root
 * needed to make them here).
 */
export function cpio(entries: readonly CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array) => {
    parts.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const encoder = new TextEncoder();
  const all = [...entries, { path: "TRAILER!!!", mode: 0 }];
  all.forEach((entry, index) => {
    const name = encoder.encode(`${entry.path}\0`);
    const data = entry.data ?? new Uint8Array();
    const fields = [
      index + 1, // inode
      entry.mode,
      0, // uid
      0, // gid
      entry.mode >> 12 === 0o04 ? 2 : 1, // links
      0, // mtime: the same archive for the same packages
      data.length,
      0,
      0,
      entry.rdev?.[0] ?? 0,
      entry.rdev?.[1] ?? 0,
      name.length,
      0, // check
    ];
    const header = "070701" + fields.map((f) => f.toString(16).padStart(8, "0")).join("");
    // The header and name are padded together to 4 bytes, then the data.
    const head = new Uint8Array([...encoder.encode(header), ...name]);
    push(head);
    if (data.length) push(data);
  });
  return concat(parts);
}
