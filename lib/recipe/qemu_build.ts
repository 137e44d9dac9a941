/**
 * Which QEMU build a binary is: the first line of its `--version`, what a
 * checkpoint records and `corral diff` prints for each side.
 *
 * @module
 */

/**
 * The first line of `binary --version`, or `undefined` when it does not run.
 *
 * @example
 * ```ts
 * import { qemuBuild } from "./qemu_build.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match((await qemuBuild("qemu-system-x86_64"))!, /^QEMU emulator version \d/);
 * assert.equal(await qemuBuild("/nonexistent/qemu"), undefined);
 * ```
 */
export async function qemuBuild(binary: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(binary, { args: ["--version"], stderr: "null" }).output();
    const line = new TextDecoder().decode(out.stdout).split("\n")[0]!.trim();
    return out.success && line ? line : undefined;
  } catch {
    return undefined;
  }
}
