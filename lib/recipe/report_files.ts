/**
 * Files a step brings back into the report: each in its VM's folder
 * (`vms/VM/`), never outside the report directory.
 *
 * @module
 */

import { StepFailure } from "../errors.ts";

/**
 * The path of `name` in `vm`'s report folder (made if need be), and that
 * path relative to the report.
 *
 * @throws {StepFailure} The run has no report directory to write into.
 */
export async function reportFile(
  reportDir: string | undefined,
  vm: string,
  name: string,
  what: string,
): Promise<{ path: string; relative: string }> {
  if (!reportDir) {
    throw new StepFailure(`${what} needs a report directory to write into: run with --report DIR`, {
      vm,
    });
  }
  const relative = `vms/${vm}/${name}`;
  const path = `${reportDir}/${relative}`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  return { path, relative };
}

/** `base-1.png`, `base-2.png`, …: the first that is not in `vm`'s report folder yet. */
export async function freshName(
  reportDir: string | undefined,
  vm: string,
  base: string,
  ext: string,
): Promise<string> {
  for (let n = 1;; n++) {
    const name = `${base}-${n}.${ext}`;
    if (!reportDir) return name;
    const taken = await Deno.stat(`${reportDir}/vms/${vm}/${name}`).then(() => true, () => false);
    if (!taken) return name;
  }
}
