/**
 * What a suite runs: the recipes under the paths given (files, or folders
 * searched for YAML files whose top has `recipe:`), each once per
 * combination of `--qemu` builds and `--matrix` values it declares, kept
 * when their tags match and when they fall into this machine's shard.
 *
 * @module
 */

import { parse } from "yaml";
import { parseRecipe } from "../parse.ts";
import type { Recipe } from "../model.ts";
import { vmMemoryMiB } from "./admission.ts";

/** One recipe run of a suite: a recipe with one set of matrix values. */
export interface SuiteEntry {
  /** Unique in the suite: the path, then the matrix values (`recipes/a.yaml[qemu=…,size=2]`). */
  id: string;
  /** The recipe file. */
  path: string;
  /** The recipe, parsed with the matrix's variables, its VMs on the matrix's QEMU. */
  recipe: Recipe;
  /** The matrix values of this run (`qemu` and variables). */
  matrix: Record<string, string>;
  /** The memory its launched VMs declare, with QEMU's own, in MiB. */
  memoryMiB: number;
}

/** How to pick and multiply the suite's recipes. */
export interface CollectOptions {
  /** `--tags smoke,!slow`: each tag required, each `!tag` excluded. */
  tags?: readonly string[];
  /** `--shard I/N`: keep the entries whose id hashes to I of N (1-based). */
  shard?: { index: number; count: number };
  /** `--qemu PATH` builds: each recipe runs on each. */
  qemu?: readonly string[];
  /** `--matrix NAME=a,b`: each recipe that declares NAME runs once per value. */
  matrix?: Readonly<Record<string, readonly string[]>>;
}

/**
 * The suite's entries, sorted by id.
 *
 * @throws {RecipeError} A recipe is invalid (the suite should not start).
 */
export async function collectSuite(
  paths: readonly string[],
  options: CollectOptions = {},
): Promise<SuiteEntry[]> {
  const entries: SuiteEntry[] = [];
  for (const path of await recipeFiles(paths)) {
    const text = await Deno.readTextFile(path);
    const plain = parseRecipe(text, path);
    if (!tagsMatch(plain.tags ?? [], options.tags ?? [])) continue;
    for (const matrix of combinations(plain, options)) {
      const { qemu, ...vars } = matrix;
      const recipe = Object.keys(vars).length ? parseRecipe(text, path, { vars }) : plain;
      const onQemu = qemu === undefined ? recipe : withQemu(recipe, qemu);
      const id = Object.keys(matrix).length
        ? `${path}[${Object.entries(matrix).map(([k, v]) => `${k}=${v}`).join(",")}]`
        : path;
      entries.push({ id, path, recipe: onQemu, matrix, memoryMiB: recipeMemoryMiB(onQemu) });
    }
  }
  entries.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const shard = options.shard;
  return shard ? entries.filter((e) => fnv(e.id) % shard.count === shard.index - 1) : entries;
}

/** The YAML files under `paths` whose top level has `recipe:` (others: files a recipe uses). */
async function recipeFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const visit = async (path: string, given: boolean): Promise<void> => {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      const names = [...Deno.readDirSync(path)].map((e) => e.name).sort();
      for (const name of names) await visit(`${path.replace(/\/$/, "")}/${name}`, false);
    } else if (given || (/\.ya?ml$/.test(path) && await isRecipe(path))) files.push(path);
  };
  for (const path of paths) await visit(path, true);
  return [...new Set(files)];
}

async function isRecipe(path: string): Promise<boolean> {
  try {
    const top = parse(await Deno.readTextFile(path), { maxAliasCount: 100 });
    return typeof top === "object" && top !== null && "recipe" in top;
  } catch {
    return false;
  }
}

/** `[smoke, linux]` against `smoke,!slow`: every plain tag present, no `!` tag present. */
export function tagsMatch(tags: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((w) => w.startsWith("!") ? !tags.includes(w.slice(1)) : tags.includes(w));
}

/** Every combination of the QEMU builds and the matrix variables the recipe declares. */
function combinations(recipe: Recipe, options: CollectOptions): Record<string, string>[] {
  const axes: [string, readonly string[]][] = [
    ...(options.qemu?.length ? [["qemu", options.qemu] as [string, readonly string[]]] : []),
    ...Object.entries(options.matrix ?? {}).filter(([name]) => name in recipe.vars),
  ];
  return axes.reduce<Record<string, string>[]>(
    (all, [name, values]) => all.flatMap((combo) => values.map((v) => ({ ...combo, [name]: v }))),
    [{}],
  );
}

/** The recipe with every VM it launches on QEMU `qemu` (a spec's own `qemu` is replaced). */
export function withQemu(recipe: Recipe, qemu: string): Recipe {
  return {
    ...recipe,
    inventory: recipe.inventory.map((vm) => vm.spec ? { ...vm, spec: { ...vm.spec, qemu } } : vm),
  };
}

/** What a recipe's launched VMs need: their memory and QEMU's own, in MiB. */
export function recipeMemoryMiB(recipe: Recipe): number {
  return recipe.inventory.reduce((sum, vm) => sum + (vm.spec ? vmMemoryMiB(vm.spec) : 0), 0);
}

/** FNV-1a: the same id lands in the same shard on every machine. */
function fnv(text: string): number {
  let hash = 2166136261;
  for (const char of new TextEncoder().encode(text)) hash = Math.imul(hash ^ char, 16777619) >>> 0;
  return hash;
}
