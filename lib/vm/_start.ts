/**
 * What starting a QEMU needs besides its process: the built Linux guest's
 * files, a saved state to restore, and the words for a QEMU that exited.
 *
 * @module
 */

import { ConnectError, ConnectionClosedError, LaunchError, TimeoutError } from "../errors.ts";
import { encodeBase64 } from "../_bytes.ts";
import type { Host } from "../host/host.ts";
import { formatMs, shellWord } from "../_text.ts";
import type { QmpClient } from "../qmp/client.ts";
import type { QemuChild } from "../_process.ts";
import { ensureLinuxGuest } from "./guest/linux.ts";
import { debianAppend, ensureDebianImage } from "./guest/debian.ts";
import { migrationEnd } from "./_migration.ts";
import { hasHostlink, HOSTLINK_ADDRESS, imageGuest, type LaunchSpec, withImage } from "./spec.ts";

/**
 * The spec with its built-in guest's parts filled in (`builtin:linux`,
 * `builtin:debian`), built first if need be, or its guest image as its
 * root disk; other specs as they are.
 */
export async function withBuiltinGuest(spec: LaunchSpec, remote: boolean): Promise<LaunchSpec> {
  if (spec.guest === "builtin:linux") return await withLinux(spec);
  const image = imageGuest(spec);
  if (image !== undefined) return withImage(spec, image);
  if (spec.guest !== "builtin:debian") return spec;
  if (remote) {
    throw new LaunchError("builtin:debian on SSH hosts is not supported yet", { vm: spec.name });
  }
  return await withDebian(spec);
}

/**
 * Build (or find in the cache) the built-in guests `specs` run: the Linux
 * guest, and each `builtin:debian` package set once.
 */
export async function buildGuests(specs: readonly LaunchSpec[]): Promise<void> {
  const debian = new Map<string, readonly string[]>();
  for (const spec of specs.filter((s) => s.guest === "builtin:debian")) {
    debian.set(JSON.stringify([...spec.packages ?? []].sort()), spec.packages ?? []);
  }
  await Promise.all([
    ...(specs.some((s) => s.guest === "builtin:linux") ? [ensureLinuxGuest()] : []),
    ...[...debian.values()].map((packages) => ensureDebianImage(packages)),
  ]);
}

/** The spec with the built Linux guest's kernel, initramfs and command line. */
export async function withLinux(spec: LaunchSpec): Promise<LaunchSpec> {
  const linux = await ensureLinuxGuest();
  const net = spec.nics?.length
    ? ` corral.net=${spec.nics.map((nic, i) => `eth${i}=${nic.address}`).join(",")}`
    : "";
  const append = `console=ttyS0 quiet panic=-1${net}${spec.append ? ` ${spec.append}` : ""}`;
  return {
    ...spec,
    kernel: spec.kernel ?? linux.kernel,
    initrd: spec.initrd ?? linux.initrd,
    append,
  };
}

/**
 * The spec with the Debian image: its kernel and initramfs, its root disk
 * (an overlay of the image, `root`, first: `/dev/vda`) before the spec's own
 * disks (which keep their names), and the command line that provisions it.
 */
export async function withDebian(spec: LaunchSpec): Promise<LaunchSpec> {
  if (spec.kernel && spec.disks?.[0]?.name === "root") return spec; // Given already (a move).
  const image = await ensureDebianImage(spec.packages ?? []);
  // A template's clone comes with its disks, root first (the template's); a new VM gets an overlay.
  const own = spec.disks?.[0]?.name === "root"
    ? spec.disks.slice(1)
    : (spec.disks ?? []).map((d, i) => ({ ...d, name: d.name ?? `disk${i}` }));
  const root = spec.disks?.[0]?.name === "root"
    ? spec.disks[0]
    : { name: "root", base: image.base };
  // The host link is the NIC after the lab's: eth{N}, at the user-mode network's guest address.
  const nics = [...spec.nics ?? [], ...(hasHostlink(spec) ? [{ address: HOSTLINK_ADDRESS }] : [])];
  const append = debianAppend(spec.name, nics, {
    screen: spec.display,
    uplink: spec.uplink ? `eth${spec.nics?.length ?? 0}` : undefined,
  });
  return {
    ...spec,
    kernel: image.kernel,
    initrd: image.initrd,
    append: spec.append ? `${append} ${spec.append}` : append,
    disks: [root, ...own],
  };
}

/**
 * The spec where its directories are: a remote `builtin:linux` gets its
 * kernel and initramfs staged on its host; a `builtin:debian` gets an SSH
 * key of its own (`ssh_key` in its directory, 0600), the public half given
 * to the guest to log in with (`corral ssh`).
 */
export async function placeGuest(
  spec: LaunchSpec,
  given: LaunchSpec,
  where: { place: Host; dir: string; qemuDir: string },
): Promise<LaunchSpec> {
  if (where.qemuDir !== where.dir && given.guest === "builtin:linux") {
    return {
      ...spec,
      kernel: await where.place.stage(spec.kernel!),
      initrd: await where.place.stage(spec.initrd!),
    };
  }
  if (spec.guest !== "builtin:debian" || /\bcorral\.key=/.test(spec.append ?? "")) return spec;
  const key = await sshKey(`${where.dir}/ssh_key`, spec.name);
  return key === undefined ? spec : { ...spec, append: `${spec.append} corral.key=${key}` };
}

/** A new ed25519 key pair at `file`: the public key, base64 (none without ssh-keygen). */
async function sshKey(file: string, name: string): Promise<string | undefined> {
  try {
    const made = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-C", `corral-${name}`, "-f", file],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!made.success) return undefined;
    return encodeBase64(await Deno.readFile(`${file}.pub`));
  } catch {
    return undefined; // No ssh-keygen: the VM runs without a key of corral's (corral ssh says so).
  }
}

/**
 * Load a saved machine state into a QEMU waiting with `-incoming defer`,
 * and wait until it completed (the `events` capability first, or no
 * MIGRATION event comes).
 */
export async function restoreState(
  client: QmpClient,
  file: string,
  deadline: number,
): Promise<void> {
  const left = () => ({ timeout: Math.max(1, deadline - performance.now()) });
  await client.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: true }],
  }, left());
  const since = client.journal.cursor;
  await client.execute("migrate-incoming", { uri: `exec:cat ${shellWord(file)}` }, left());
  if (await migrationEnd(client.journal, since, left().timeout) !== "completed") {
    throw new LaunchError(`the saved state ${file} could not be loaded`, {});
  }
}

/**
 * Connect to a QEMU that is starting: the socket file appears before QEMU
 * listens, so `connect` is retried — while QEMU lives, until `deadline`.
 *
 * @throws {TimeoutError} QEMU did not listen in time.
 * @throws {LaunchError} QEMU exited while starting.
 */
export async function untilListening<T>(
  process: QemuChild,
  wait: { deadline: number; timeout: number; vm: string },
  connect: (left: number) => Promise<T>,
  options: { signal?: AbortSignal | undefined; forwarded?: boolean } = {},
): Promise<T> {
  for (let delay = 2;; delay = Math.min(delay * 2, 50)) {
    options.signal?.throwIfAborted();
    const left = wait.deadline - performance.now();
    if (left <= 0) {
      throw new TimeoutError(`QEMU did not start listening within ${formatMs(wait.timeout)}`, {
        vm: wait.vm,
        timeout: wait.timeout,
      });
    }
    try {
      return await connect(left);
    } catch (error) {
      const retry = error instanceof ConnectError ||
        error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused ||
        (options.forwarded && error instanceof ConnectionClosedError);
      if (!retry) throw error;
    }
    if (await process.exited(delay)) {
      await process.status;
      throw exitedWhileStarting(wait.vm, process);
    }
  }
}

export function exitedWhileStarting(name: string, process: QemuChild): LaunchError {
  const code = process.exit?.code;
  return new LaunchError(`QEMU exited with code ${code} while starting`, {
    vm: name,
    exitCode: code,
    stderr: process.stderr,
  });
}
