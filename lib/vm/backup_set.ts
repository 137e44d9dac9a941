/**
 * Backups that last: a folder holds a disk's chain of backups (a full one,
 * then incremental ones, each over the one before as its backing file) and
 * `chain.json`, which names them; the disk's dirty bitmap is persistent
 * (kept in its qcow2 file), so a later run — another corral process, the
 * VM started again — goes on with an incremental backup. A chain that
 * cannot be trusted (a file missing or changed, another disk, a bitmap
 * gone or left inconsistent by a QEMU that did not close the image) is
 * answered with a full backup, and the result says why. `restoreBackup`
 * rebuilds a disk, as it was at a point, into a standalone image. For a VM
 * of an SSH host, the set is kept on that host (`vm.backupSet`).
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { findDisk } from "./_block.ts";
import { createImage } from "./_image.ts";
import { awaitJob, newJobId } from "./jobs.ts";
import type { ActionOptions, VmHandle as Vm } from "./handle.ts";
import type { Host } from "../host/host.ts";
import { LOCAL } from "../host/local.ts";

/** One backup in a set. */
export interface BackupPoint {
  /** Its name: `0001`, `0002`, … */
  name: string;
  /** Its file, in the set's folder. */
  file: string;
  /** `full`, or `incremental` over `base`. */
  sync: "full" | "incremental";
  /** The point it builds on. */
  base?: string;
  /** When it was taken (ISO). */
  at: string;
  /** Bytes copied. */
  bytes: number;
  /** Its file's size once written, to tell a changed file. */
  size: number;
  /** Its file's modification time once written (ms since the epoch). */
  mtime: number;
}

/** What `chain.json` holds. */
interface Chain {
  format: 1;
  disk: string;
  /** The disk's image the bitmap lives in. */
  image: string;
  bitmap: string;
  points: BackupPoint[];
}

/** Options of {@linkcode backupSet}. */
export interface BackupSetOptions extends ActionOptions {
  /** The set's folder (made if new). */
  dir: string;
  /** The disk (default: the first writable one). */
  disk?: string | undefined;
  /** `incremental` (default): over the set's last backup when the chain holds; `full`: start again. */
  sync?: "full" | "incremental";
}

/** What {@linkcode backupSet} took. */
export interface BackupSetResult extends BackupPoint {
  /** The disk's device name. */
  disk: string;
  /** Why a full backup was taken where an incremental one was asked for. */
  note?: string;
}

const FILE = "chain.json";

/**
 * Back up a disk into the set in `dir`: incremental over the set's last
 * backup when its chain holds (the persistent bitmap counts every write
 * since, across runs), else full, saying why.
 *
 * @example
 * ```ts ignore
 * const taken = await backupSet(vm, { dir: "/backups/db1", disk: "data" });
 * console.log(taken.name, taken.sync, taken.note ?? ""); // 0003 incremental
 * ```
 *
 * @throws {JobError} The backup job failed; the set is as it was.
 */
export async function backupSet(
  vm: Vm,
  options: BackupSetOptions,
  place: Host = LOCAL,
): Promise<BackupSetResult> {
  const disk = await findDisk(vm, options.disk);
  const image = await imageFile(vm, disk.device, disk.file);
  await run(place, "mkdir", ["-p", "-m", "700", options.dir]);
  const chain = await readChain(place, options.dir);
  const bitmap = chain?.bitmap ?? "corral-set";
  const broken = options.sync === "full"
    ? undefined
    : await whyFull(vm, place, options.dir, chain, {
      device: disk.device,
      node: disk.node,
      image,
      bitmap,
    });
  const sync = options.sync === "full" || broken !== undefined ? "full" : "incremental";
  const points = sync === "full" ? [] : chain!.points;
  const last = points.at(-1);
  const name = String((chain?.points.length ?? 0) + 1).padStart(4, "0");
  const file = `${options.dir}/${name}.qcow2`;
  const jobs = { timeout: options.timeout ?? 600_000, signal: options.signal };
  // The backing file is named relative to the set's folder: the folder can move.
  const target = await createImage(vm, file, { size: disk.size, backing: last?.file }, jobs);
  let bytes: number;
  try {
    bytes = await copy(vm, disk, target.node, sync, bitmap, jobs);
  } catch (error) {
    await target.close();
    await place.tool("rm", ["-f", file]);
    throw error;
  }
  await target.close();
  const stat = (await statOf(place, file))!;
  const point: BackupPoint = {
    name,
    file: `${name}.qcow2`,
    sync,
    ...(last ? { base: last.name } : {}),
    at: new Date().toISOString(),
    bytes,
    size: stat.size,
    mtime: stat.mtime,
  };
  // Earlier chains stay listed: a restore can still reach their points.
  const all = [...(chain?.points ?? []), point];
  await writeChain(place, options.dir, {
    format: 1,
    disk: disk.device,
    image,
    bitmap,
    points: all,
  });
  const note = options.sync !== "full" && broken ? `full, not incremental: ${broken}` : undefined;
  return { ...point, disk: disk.device, ...(note ? { note } : {}) };
}

/** The image file a disk's data is written to (its qcow2 file node's). */
async function imageFile(vm: Vm, device: string, fallback: string): Promise<string> {
  const named = await vm.execute("query-named-block-nodes", { flat: true });
  const own = named.filter((n) => /-file(-\d+)?$/.test(n["node-name"] ?? ""))
    .find((n) => n["node-name"]!.startsWith(`${device}-file`));
  return own?.file ?? fallback;
}

/** Why the set's chain cannot take an incremental backup now; `undefined` when it can. */
async function whyFull(
  vm: Vm,
  place: Host,
  dir: string,
  chain: Chain | undefined,
  disk: { device: string; node: string; image: string; bitmap: string },
): Promise<string | undefined> {
  if (!chain?.points.length) return "the set has no backup yet";
  if (chain.disk !== disk.device || chain.image !== disk.image) {
    return `the set backs up ${chain.disk} (${chain.image}), not ${disk.device} (${disk.image})`;
  }
  for (const point of chain.points.slice(chain.points.findLastIndex((p) => p.sync === "full"))) {
    const stat = await statOf(place, `${dir}/${point.file}`);
    if (!stat) return `${point.file} of the chain is missing`;
    if (stat.size !== point.size || stat.mtime !== point.mtime) {
      return `${point.file} of the chain changed since it was written`;
    }
  }
  const named = await vm.execute("query-named-block-nodes", { flat: true });
  const bitmap = named.find((n) => n["node-name"] === disk.node)?.["dirty-bitmaps"]
    ?.find((b) => b.name === disk.bitmap);
  if (!bitmap) return `the disk has no bitmap ${disk.bitmap}: it was written without it`;
  if (bitmap.inconsistent) {
    return `its bitmap ${disk.bitmap} is inconsistent (QEMU did not close the image)`;
  }
  return undefined;
}

/** Run the backup job: full (the bitmap starts again, in one transaction) or incremental. */
async function copy(
  vm: Vm,
  disk: { node: string },
  target: string,
  sync: "full" | "incremental",
  bitmap: string,
  jobs: { timeout: number; signal?: AbortSignal | undefined },
): Promise<number> {
  const id = newJobId();
  const since = vm.mark();
  const job = {
    "job-id": id,
    device: disk.node,
    target,
    sync,
    "auto-dismiss": false,
    ...(sync === "incremental" ? { bitmap } : {}),
  };
  if (sync === "full") {
    // The bitmap starts again at the very moment of the full copy: one transaction. One left
    // inconsistent by a QEMU that did not close the image cannot be cleared: it goes first.
    const data = { node: disk.node, name: bitmap };
    const named = await vm.execute("query-named-block-nodes", { flat: true }, jobs);
    const had = named.find((n) => n["node-name"] === disk.node)?.["dirty-bitmaps"]
      ?.find((b) => b.name === bitmap);
    if (had?.inconsistent) await vm.execute("block-dirty-bitmap-remove", data, jobs);
    const track = had && !had.inconsistent
      ? { type: "block-dirty-bitmap-clear" as const, data }
      : { type: "block-dirty-bitmap-add" as const, data: { ...data, persistent: true } };
    await vm.execute("transaction", {
      actions: [track, { type: "blockdev-backup" as const, data: job }],
    }, jobs);
  } else await vm.execute("blockdev-backup", job, jobs);
  return (await awaitJob(vm, id, "blockdev-backup", since, jobs))["total-progress"];
}

async function readChain(place: Host, dir: string): Promise<Chain | undefined> {
  try {
    const chain = JSON.parse((await place.readText(`${dir}/${FILE}`)) ?? "") as Chain;
    return chain.format === 1 ? chain : undefined;
  } catch {
    return undefined; // None yet, or unreadable: a full backup starts the set again.
  }
}

async function writeChain(place: Host, dir: string, chain: Chain): Promise<void> {
  const draft = `${dir}/.${FILE}.${crypto.randomUUID()}`;
  await place.writeFile(draft, new TextEncoder().encode(JSON.stringify(chain, null, 2) + "\n"));
  await run(place, "mv", [draft, `${dir}/${FILE}`]);
}

/** A file's size and modification time (s) where the set is; `undefined` when it is not there. */
async function statOf(
  place: Host,
  path: string,
): Promise<{ size: number; mtime: number } | undefined> {
  const out = await place.tool("stat", ["-c", "%s %Y", path]);
  if (!out.success) return undefined;
  const [size, mtime] = out.stdout.trim().split(" ").map(Number);
  return { size: size!, mtime: mtime! };
}

/** Run a tool where the set is; its failure is an error naming it. */
async function run(place: Host, program: string, args: string[]): Promise<string> {
  const out = await place.tool(program, args);
  if (!out.success) {
    throw new CorralError(`${program} ${args.join(" ")} failed: ${out.stderr.trim()}`);
  }
  return out.stdout;
}

/** Options of {@linkcode restoreBackup}. */
export interface RestoreOptions {
  /** The set's folder. */
  from: string;
  /** A point's name, or `LATEST` (default). */
  point?: string;
  /** The image to write (a new standalone qcow2; it must not exist). */
  to: string;
}

/**
 * Rebuild the disk as it was at a point of a backup set into a new
 * standalone qcow2 image (`qemu-img convert` of the point and the chain
 * under it).
 *
 * @example
 * ```ts ignore
 * await restoreBackup({ from: "/backups/db1", point: "LATEST", to: "/tmp/db1.qcow2" });
 * ```
 *
 * @throws {CorralError} No such set or point, `to` exists, or qemu-img failed.
 */
export async function restoreBackup(
  options: RestoreOptions,
  place: Host = LOCAL,
): Promise<BackupPoint & { to: string }> {
  const chain = await readChain(place, options.from);
  if (!chain?.points.length) {
    throw new CorralError(`${options.from} holds no backup set (${FILE})`);
  }
  const wanted = options.point ?? "LATEST";
  const point = wanted === "LATEST"
    ? chain.points.at(-1)!
    : chain.points.find((p) => p.name === wanted);
  if (!point) {
    throw new CorralError(
      `${options.from} has no backup ${wanted}; it has ${
        chain.points.map((p) => p.name).join(", ")
      }`,
    );
  }
  if ((await place.tool("test", ["-e", options.to])).success) {
    throw new CorralError(`${options.to} exists: a restore writes a new image`);
  }
  const args = ["convert", "-O", "qcow2", `${options.from}/${point.file}`, options.to];
  const out = await place.tool("qemu-img", args);
  if (!out.success) throw new CorralError(`restoring ${point.name} failed: ${out.stderr.trim()}`);
  return { ...point, to: options.to };
}
