/**
 * A guest image's cloud-init seed: NoCloud's `user-data`, `meta-data` and
 * `network-config` in a directory of the VM's, which QEMU shows the guest
 * as a read-only FAT drive labelled `CIDATA` (its `vvfat` driver: no
 * mkfs, no ISO tools, nothing but QEMU).
 *
 * @module
 */

import { stringify } from "yaml";
import type { Host } from "../../host/host.ts";
import { LaunchError } from "../../errors.ts";
import type { CloudInit } from "../spec.ts";

/** The seed's files for VM `name`: file name → text. */
export function seedFiles(name: string, seed: CloudInit): Record<string, string> {
  const files: Record<string, string> = {
    "meta-data": stringify({
      "instance-id": `corral-${name}`,
      "local-hostname": name,
      ...seed.metaData,
    }),
    "user-data": userData(seed),
  };
  if (seed.networkConfig) files["network-config"] = stringify(seed.networkConfig);
  return files;
}

/**
 * The user data: text as given, or a cloud-config with the shorthands in.
 *
 * @example
 * ```ts
 * import { userData } from "./cloud_init.ts";
 * import assert from "node:assert/strict";
 *
 * const text = userData({ sshKeys: ["ssh-ed25519 AAAA me"], userData: { runcmd: ["true"] } });
 * assert.equal(text, "#cloud-config\nruncmd:\n  - \"true\"\nssh_authorized_keys:\n  - ssh-ed25519 AAAA me\n");
 * ```
 */
export function userData(seed: CloudInit): string {
  if (typeof seed.userData === "string") return seed.userData;
  const config: Record<string, unknown> = { ...seed.userData };
  if (seed.users) config.users = [...(config.users as unknown[] ?? []), ...seed.users];
  if (seed.sshKeys) {
    const keys = (config.ssh_authorized_keys as string[] | undefined) ?? [];
    config.ssh_authorized_keys = [...keys, ...seed.sshKeys];
  }
  return `#cloud-config\n${stringify(config)}`;
}

/** The directory the seed drive shows, in the VM's directory `dir`. */
export function seedDir(dir: string): string {
  return `${dir}/cidata`;
}

/** Write the seed of VM `name` into {@linkcode seedDir} where its QEMU runs. */
export async function writeSeed(
  name: string,
  seed: CloudInit,
  dir: string,
  place: Host,
): Promise<void> {
  const made = await place.tool("mkdir", ["-m", "700", "-p", seedDir(dir)]);
  if (!made.success) {
    throw new LaunchError(`cannot make its cloud-init seed: ${made.stderr.trim()}`, { vm: name });
  }
  for (const [file, text] of Object.entries(seedFiles(name, seed))) {
    await place.writeFile(`${seedDir(dir)}/${file}`, new TextEncoder().encode(text));
  }
}
