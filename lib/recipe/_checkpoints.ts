/**
 * A run's checkpoints: `checkpoint: NAME` steps save the lab into
 * `--checkpoints DIR/NAME` with what it was — the recipe, each VM's spec
 * and networks, its QEMU build, the bases of its disks, the seed — and
 * `--resume-from NAME` opens one, refusing it when any of those is not
 * what it was.
 *
 * @module
 */

import { qemuBuild } from "./qemu_build.ts";
import { CheckpointError, CorralError } from "../errors.ts";
import { didYouMean } from "../_suggest.ts";
import { type LabCheckpoint, saveCheckpoint, type SavedVm } from "../vm/checkpoint.ts";
import type { Vm } from "../vm/vm.ts";
import type { CheckpointSink } from "./actions/action.ts";
import type { InventoryVm } from "./model.ts";
import { type Plan, planRecipe, randomSeed } from "./plan.ts";
import type { Recipe } from "./model.ts";
import type { RunOptions } from "./run_options.ts";

/** The layout of `checkpoint.json`; another one is refused. */
const FORMAT = 1;

/** A file a saved disk stands on, as it was. */
interface Base {
  path: string;
  size: number;
  mtime: number;
}

/** One VM in `checkpoint.json` (its files relative to the checkpoint's folder). */
interface VmMeta extends SavedVm {
  /** The spec and networks the recipe gave it, as JSON. */
  spec: string;
  /** `qemu-system-x86_64 --version`'s first line. */
  qemu: string;
  /** The files each disk stands on (a guest image, Debian's root). */
  bases: Base[];
}

/** What `checkpoint.json` holds. */
interface Meta {
  format: number;
  checkpoint: string;
  recipe: string;
  seed: number;
  savedAt: string;
  pausedMs: number;
  vms: VmMeta[];
}

/** What a run resumed from a checkpoint starts with. */
export interface Resumed {
  /** The VMs' saved states and disks, for `Lab.launch`. */
  lab: LabCheckpoint;
  /** The seed the checkpoint's run drew its picks from. */
  seed: number;
  /** When it was saved (ISO). */
  savedAt: string;
}

/**
 * A run's plan — and, resuming from a checkpoint, what the lab starts from,
 * the plan drawn from the checkpoint's seed unless one was given.
 *
 * @throws {CheckpointError} The checkpoint cannot be resumed from.
 * @throws {CorralError} `options.plan` is another recipe's.
 */
export async function planRun(
  recipe: Recipe,
  options: RunOptions,
): Promise<{ plan: Plan; resumed?: Resumed }> {
  if (options.plan && options.plan.recipe !== recipe) {
    throw new CorralError("the plan given is not this recipe's: plan the recipe that runs");
  }
  const { limit, startAt, resumeFrom } = options;
  const planOf = (seed: number) =>
    options.plan ?? planRecipe(recipe, seed, { limit, startAt, resumeFrom });
  const plan = planOf(options.seed ?? randomSeed());
  if (resumeFrom === undefined) return { plan };
  if (options.checkpoints === undefined) {
    throw new CheckpointError("--resume-from needs --checkpoints DIR, the folder it is in", {
      checkpoint: resumeFrom,
    });
  }
  const resumed = await openCheckpoint(options.checkpoints, resumeFrom, plan);
  return { plan: options.seed === undefined ? planOf(resumed.seed) : plan, resumed };
}

/** Where a run's checkpoint steps save the lab (`--checkpoints`), if it keeps them. */
export function checkpointStore(
  options: RunOptions,
  plan: Plan,
  faults: () => boolean,
): CheckpointSink | undefined {
  return options.checkpoints ? new CheckpointStore(options.checkpoints, plan, faults) : undefined;
}

/** Saves `checkpoint` steps into `root` for one run. */
class CheckpointStore implements CheckpointSink {
  #root: string;
  #plan: Plan;
  #faults: () => boolean;

  /** `faults` says whether a fault corral injected is active (it would be saved, not healed). */
  constructor(root: string, plan: Plan, faults: () => boolean) {
    this.#root = root;
    this.#plan = plan;
    this.#faults = faults;
  }

  /** Save the lab as `root/NAME` (replacing an older one only once the new one is complete). */
  async save(name: string, vms: readonly Vm[], timeout: number): Promise<unknown> {
    if (this.#faults()) {
      throw new CorralError(
        `checkpoint '${name}' would hold a fault corral injected, which a resumed run could not ` +
          "heal: heal it (or let its duration end) before the checkpoint",
      );
    }
    const missing = this.#plan.vms.filter((name) => !vms.some((vm) => vm.name === name));
    if (missing.length) {
      throw new CorralError(
        `checkpoint '${name}' needs every VM of the run; not on ${missing.join(", ")} ` +
          "(failed in an earlier step, or left out by the step's 'on')",
      );
    }
    await Deno.mkdir(this.#root, { recursive: true, mode: 0o700 });
    const draft = await Deno.makeTempDir({ dir: this.#root, prefix: `.${name}-` });
    const dir = `${this.#root}/${name}`;
    try {
      const saved = await saveCheckpoint(vms, draft, { timeout });
      const meta = await this.#meta(name, saved.vms, saved.pausedMs, draft);
      await Deno.writeTextFile(`${draft}/checkpoint.json`, JSON.stringify(meta, null, 2) + "\n");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(draft, dir);
      return {
        checkpoint: name,
        dir,
        pausedMs: saved.pausedMs,
        note: `saved into ${dir}; the lab stood still ${saved.pausedMs} ms`,
      };
    } catch (error) {
      await Deno.remove(draft, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  async #meta(name: string, saved: SavedVm[], pausedMs: number, draft: string): Promise<Meta> {
    const inventory = this.#plan.recipe.inventory;
    const vms = await Promise.all(saved.map(async (vm): Promise<VmMeta> => {
      const entry = inventory.find((e) => e.name === vm.name)!;
      return {
        name: vm.name,
        running: vm.running,
        state: relative(vm.state, draft),
        disks: vm.disks.map((disk) => ({ id: disk.id, file: relative(disk.file, draft) })),
        spec: specOf(entry),
        qemu: await vmBuild(entry),
        bases: (await Promise.all(vm.disks.map((disk) => basesOf(disk.file)))).flat(),
      };
    }));
    return {
      format: FORMAT,
      checkpoint: name,
      recipe: this.#plan.recipe.name,
      seed: this.#plan.seed,
      savedAt: new Date().toISOString(),
      pausedMs,
      vms,
    };
  }
}

/**
 * Open checkpoint `name` in `root` for a run of `plan`'s recipe.
 *
 * @throws {CheckpointError} It is missing, or the recipe, a VM's spec, a
 *   QEMU build or a disk's base is not what it was when it was saved.
 */
export async function openCheckpoint(root: string, name: string, plan: Plan): Promise<Resumed> {
  const dir = `${root}/${name}`;
  const refuse = (why: string) =>
    new CheckpointError(`cannot resume from checkpoint '${name}' (${dir}): ${why}`, {
      checkpoint: dir,
    });
  const meta = await readMeta(dir, root, name, refuse);
  if (meta.recipe !== plan.recipe.name) {
    throw refuse(`it was saved by recipe '${meta.recipe}', not '${plan.recipe.name}'`);
  }
  const saved = meta.vms.map((vm) => vm.name).sort().join(", ");
  if (saved !== [...plan.vms].sort().join(", ")) {
    throw refuse(`it holds the VMs ${saved}; this run brings up ${plan.vms.join(", ")}`);
  }
  for (const vm of meta.vms) {
    const entry = plan.recipe.inventory.find((e) => e.name === vm.name)!;
    const changed = specChanges(vm.spec, specOf(entry));
    if (changed) throw refuse(`VM ${vm.name} changed since: ${changed}`);
    const qemu = await vmBuild(entry);
    if (qemu !== vm.qemu) {
      throw refuse(`VM ${vm.name} was saved by ${vm.qemu}; this run has ${qemu}`);
    }
    for (const base of vm.bases) {
      const now = await Deno.stat(base.path).catch(() => undefined);
      if (now?.size !== base.size || now.mtime?.getTime() !== base.mtime) {
        throw refuse(
          `VM ${vm.name}'s disk stands on ${base.path}, which is ${
            now ? "not the file it was (rebuilt since?)" : "gone"
          }`,
        );
      }
    }
  }
  const absolute = (vm: VmMeta): SavedVm => ({
    name: vm.name,
    running: vm.running,
    state: `${dir}/${vm.state}`,
    disks: vm.disks.map((disk) => ({ id: disk.id, file: `${dir}/${disk.file}` })),
  });
  return { lab: { vms: meta.vms.map(absolute) }, seed: meta.seed, savedAt: meta.savedAt };
}

/** `checkpoint.json`, or why it cannot be read (the checkpoints there named). */
async function readMeta(
  dir: string,
  root: string,
  name: string,
  refuse: (why: string) => CheckpointError,
): Promise<Meta> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/checkpoint.json`);
  } catch {
    const names = await checkpointsIn(root);
    throw refuse(
      names.length
        ? `no such checkpoint; ${root} has ${names.sort().join(", ")}${didYouMean(name, names)}`
        : `no checkpoint there: run the recipe with --checkpoints ${root} to save one`,
    );
  }
  let meta: Meta;
  try {
    meta = JSON.parse(text);
  } catch {
    throw refuse("its checkpoint.json is not JSON");
  }
  if (meta.format !== FORMAT) throw refuse(`its format is ${meta.format}; corral reads ${FORMAT}`);
  return meta;
}

/** The checkpoints saved in `root` (none when it does not exist). */
async function checkpointsIn(root: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch {
    // No such folder: no checkpoints.
  }
  return names;
}

/** What a checkpoint compares of a VM: its spec and its networks, as the recipe gives them. */
function specOf(vm: InventoryVm): string {
  return JSON.stringify({ spec: vm.spec ?? {}, networks: vm.networks });
}

/** Which fields of a VM's spec differ between two `specOf`s; `undefined` when none. */
function specChanges(was: string, now: string): string | undefined {
  if (was === now) return undefined;
  const [a, b] = [JSON.parse(was), JSON.parse(now)];
  const flat = (x: { spec: Record<string, unknown>; networks: unknown }) => ({
    ...x.spec,
    networks: x.networks,
  });
  const [before, after] = [flat(a), flat(b)];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) =>
    JSON.stringify(before[key as keyof typeof before]) !==
      JSON.stringify(after[key as keyof typeof after])
  );
  return `its ${keys.join(", ")} ${keys.length === 1 ? "is" : "are"} not what ${
    keys.length === 1 ? "it was" : "they were"
  }`;
}

/** The QEMU build a VM runs on: its binary's `--version` first line. */
async function vmBuild(vm: InventoryVm): Promise<string> {
  const binary = vm.spec?.qemu ?? Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
  return await qemuBuild(binary) ?? `${binary} (not found)`;
}

/** The files a qcow2 file stands on (its backing chain), with their sizes and times. */
async function basesOf(file: string): Promise<Base[]> {
  const out = await new Deno.Command("qemu-img", {
    args: ["info", "--output=json", "--backing-chain", "-U", file],
    stderr: "null",
  }).output();
  if (!out.success) return [];
  const chain = JSON.parse(new TextDecoder().decode(out.stdout)) as { filename: string }[];
  return await Promise.all(
    chain.slice(1).map(async ({ filename }) => {
      const stat = await Deno.stat(filename);
      return { path: filename, size: stat.size, mtime: stat.mtime?.getTime() ?? 0 };
    }),
  );
}

function relative(path: string, dir: string): string {
  return path.startsWith(`${dir}/`) ? path.slice(dir.length + 1) : path;
}
