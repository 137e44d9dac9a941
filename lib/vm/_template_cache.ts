/**
 * Saved templates kept across runs in `~/.cache/corral/templates/KEY/`,
 * so that only the first run of a lab pays the template's boot. The key is
 * the spec (without its name) and the identity of every file the saved
 * state depends on — the QEMU binary, the kernel and initramfs, each disk's
 * base — so a rebuilt image or another QEMU build never restores a state
 * that does not belong to it. `CORRAL_TEMPLATE_CACHE=off` turns it off.
 *
 * @module
 */

import type { LaunchSpec } from "./spec.ts";
import { sha256Hex } from "../_bytes.ts";

/** Bump when what a saved template holds changes. */
const VERSION = 2;

/** The cache's directory: `$XDG_CACHE_HOME/corral/templates`, else `~/.cache/corral/templates`. */
export function templateCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/corral/templates`;
}

/** Whether templates are cached: on, unless `CORRAL_TEMPLATE_CACHE=off`. */
export function cachingTemplates(): boolean {
  return Deno.env.get("CORRAL_TEMPLATE_CACHE") !== "off";
}

/**
 * The cache key of a template: `shared` (what its clones share) and the
 * files of `resolved` (its spec with its guest's parts filled in) that the
 * state depends on, each by path, size, modification time and inode.
 */
export async function templateKey(
  shared: string,
  resolved: LaunchSpec,
  qemu: string,
): Promise<{ id: string; files: string[] }> {
  const files = [
    await onPath(qemu),
    resolved.kernel,
    resolved.initrd,
    ...(resolved.disks ?? []).map((d) => "base" in d ? d.base : undefined),
  ].filter((file) => file !== undefined);
  const text = JSON.stringify({ v: VERSION, shared, stamps: await stamps(files) });
  return { id: (await sha256Hex(text)).slice(0, 32), files };
}

/** Each file's path, size, modification time and inode (a file gone: its path alone). */
async function stamps(files: readonly string[]): Promise<unknown[]> {
  const out = [];
  for (const file of files) {
    const info = await Deno.stat(file).catch(() => undefined);
    out.push([file, info?.size, info?.mtime?.getTime(), info?.ino]);
  }
  return out;
}

/**
 * Remove the templates whose files changed or went (a rebuilt image, a
 * removed disk base: they can never be used again) and drafts older than a
 * day (a run that died while saving).
 */
export async function pruneTemplates(cache: string): Promise<void> {
  for await (const entry of Deno.readDir(cache)) {
    const dir = `${cache}/${entry.name}`;
    const info = await Deno.stat(dir).catch(() => undefined);
    if (entry.name.startsWith(".draft-")) {
      if (info?.mtime && Date.now() - info.mtime.getTime() > 86_400_000) await removeDir(dir);
      continue;
    }
    const saved = await Deno.readTextFile(`${dir}/files.json`).then(JSON.parse, () => undefined);
    const still = saved &&
      JSON.stringify(await stamps(saved.files)) === JSON.stringify(saved.stamps);
    if (!still) await removeDir(dir);
  }
}

const removeDir = (dir: string) => Deno.remove(dir, { recursive: true }).catch(() => {});

/** A command's file: itself when it has a slash, else the first on `PATH`. */
async function onPath(command: string): Promise<string> {
  if (command.includes("/")) return command;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (await Deno.stat(`${dir}/${command}`).then((s) => s.isFile, () => false)) {
      return `${dir}/${command}`;
    }
  }
  return command;
}

/** The cached template's directory for `key` in `cache`, if one was saved whole. */
export async function cachedTemplate(cache: string, key: string): Promise<string | undefined> {
  const dir = `${cache}/${key}`;
  return await Deno.stat(`${dir}/done`).then(() => dir, () => undefined);
}

/**
 * A private directory in the cache to save a template into, and how to
 * publish it under `key` (a rename: a run that stops half-way leaves no
 * template behind for the next to trust, and two runs saving at once both
 * end with one).
 */
export async function templateDraft(
  cache: string,
  key: { id: string; files: string[] },
): Promise<{
  dir: string;
  publish(): Promise<string>;
  discard(): Promise<void>;
}> {
  await Deno.mkdir(cache, { recursive: true, mode: 0o700 });
  await pruneTemplates(cache);
  const dir = await Deno.makeTempDir({ dir: cache, prefix: ".draft-" });
  const final = `${cache}/${key.id}`;
  return {
    dir,
    async publish() {
      const files = { files: key.files, stamps: await stamps(key.files) };
      await Deno.writeTextFile(`${dir}/files.json`, JSON.stringify(files) + "\n");
      await Deno.writeTextFile(`${dir}/done`, "");
      try {
        await Deno.rename(dir, final);
      } catch {
        await Deno.remove(dir, { recursive: true }); // Another run published it first.
      }
      return final;
    },
    discard: () => removeDir(dir),
  };
}
