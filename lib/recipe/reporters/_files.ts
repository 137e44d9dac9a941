/**
 * What the file reporters share: a file that must not exist yet, a VM's
 * folder that can only be inside the report, and writes kept in order.
 *
 * @module
 */

import { CorralError } from "../../errors.ts";
import { isVmName } from "../../vm/machine.ts";

/**
 * Write a file that must not exist yet: a report never follows a symlink
 * planted in its directory, nor overwrites what is there.
 */
export async function writeNew(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { createNew: true });
}

/**
 * The VM's folder in the report. The name must be a VM name (no `/`, no
 * `..`), so nothing is ever written outside the report directory.
 */
export async function vmDir(dir: string, vm: string): Promise<string> {
  if (!isVmName(vm)) {
    throw new CorralError(
      `${JSON.stringify(vm)} is not a VM name: the report has no folder for it`,
    );
  }
  const path = `${dir}/vms/${vm}`;
  await Deno.mkdir(path, { recursive: true });
  return path;
}

/** Writes done one after another, in the order they were asked for; `done` waits for all. */
export class Chain {
  #last: Promise<unknown> = Promise.resolve();

  /** Queue `write`; a failed write does not stop the later ones. */
  add(write: () => Promise<unknown>): void {
    this.#last = this.#last.then(write).catch(() => {});
  }

  /** Every queued write has ended. */
  async done(): Promise<void> {
    await this.#last;
  }
}

const encoder = new TextEncoder();

/** `text` appended to `file` (all of it, however many writes that takes). */
export async function append(file: Deno.FsFile, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let n = 0; n < bytes.length;) n += await file.write(bytes.subarray(n));
}
