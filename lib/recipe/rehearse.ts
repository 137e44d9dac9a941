/**
 * `corral rehearse`: a recipe for VMs corral did not start (`attach:`) run
 * first on twins of them — each original cloned (its machine state, and a
 * copy-on-write view of its disks) into a private lab with no network path
 * to the originals, which run on, stopped only for the clone — and only if
 * that passed, with `thenRun`, on the originals.
 *
 * @module
 */

import { join } from "node:path";
import { ExplorationError } from "../errors.ts";
import { parseAddress } from "../qmp/address.ts";
import { Switch } from "../vm/switch.ts";
import { Twin } from "../vm/twin.ts";
import { Vm } from "../vm/vm.ts";
import { EXIT_CODES, type RunJournal } from "./journal.ts";
import type { InventoryVm, Recipe } from "./model.ts";
import { runRecipe } from "./run.ts";
import type { RunListener } from "./run_events.ts";

/** Options of {@linkcode rehearseRecipe}. */
export interface RehearseOptions {
  /** The seed both runs draw picks from. */
  seed: number;
  /** Run the recipe on the originals when the rehearsal passed. */
  thenRun?: boolean;
  /** Reports into `DIR/rehearsal` (and `DIR/real`). */
  reportDir?: string;
  /** Aborting it (Ctrl-C) stops the run; the twins are closed and the originals given their disks back. */
  signal?: AbortSignal;
  /** Every event of each run. */
  listeners?: readonly RunListener[];
  /** Progress, line by line. */
  log?: (line: string) => void;
}

/** What a rehearsal found, and the real run when there was one. */
export interface RehearseResult {
  /** The run on the twins. */
  rehearsal: RunJournal;
  /** How long each original stood still for its clone, in ms. */
  pauses: Record<string, number>;
  /** The run on the originals (`thenRun`, after a passing rehearsal). */
  real?: RunJournal;
  /** The rehearsal's exit code when it did not pass, else the real run's, else 0. */
  exitCode: number;
}

/**
 * Rehearse `recipe` on twins of its attached VMs; with `thenRun`, then run
 * it on them for real if the rehearsal passed.
 *
 * @throws {ExplorationError} The recipe attaches no VM, or one cannot be cloned here.
 *
 * @example
 * ```ts ignore
 * import { loadRecipe, rehearseRecipe } from "@corral/corral/recipe";
 *
 * const recipe = await loadRecipe("maintenance.yaml");
 * const { rehearsal, pauses } = await rehearseRecipe(recipe, { seed: 1 });
 * console.log(rehearsal.verdict, pauses);
 * ```
 */
export async function rehearseRecipe(
  recipe: Recipe,
  options: RehearseOptions,
): Promise<RehearseResult> {
  const log = options.log ?? (() => {});
  const attached = recipe.inventory.filter((vm) => vm.attach !== undefined);
  if (!attached.length) {
    throw new ExplorationError(
      `${recipe.file} attaches no VM: rehearse is for VMs corral did not start (attach:); ` +
        "corral run already runs a recipe on VMs of its own",
    );
  }
  const sockets = attached.map(localSocket);
  const report = (name: string) => options.reportDir && join(options.reportDir, name);
  log(`cloning ${attached.map((vm) => vm.name).join(", ")} into twins (the originals run on)`);
  const done = await onTwins(recipe, attached, sockets, options, report("rehearsal"));
  const verdict = done.rehearsal.verdict;
  if (!options.thenRun || verdict !== "pass" || options.signal?.aborted) {
    if (options.thenRun) log(`the rehearsal did not pass (${verdict}): not run for real`);
    return { ...done, exitCode: EXIT_CODES[verdict] };
  }
  log("the rehearsal passed: running it on the originals");
  const { journal } = await runRecipe(recipe, {
    seed: options.seed,
    reportDir: report("real"),
    force: true,
    signal: options.signal,
    listeners: options.listeners,
  });
  return { ...done, real: journal, exitCode: EXIT_CODES[journal.verdict] };
}

/** An attached VM's QMP socket on this machine (a twin is made from a local QEMU). */
function localSocket(vm: InventoryVm): string {
  const address = (() => {
    try {
      return parseAddress(vm.attach!);
    } catch {
      return undefined;
    }
  })();
  if (address?.transport !== "unix") {
    throw new ExplorationError(
      `cannot clone ${vm.name} (attach: ${vm.attach}): rehearse clones QEMUs on this machine ` +
        "attached by their unix QMP socket",
      { vm: vm.name },
    );
  }
  return address.path;
}

/** Clone every attached VM, run the recipe on the twins, close them (the originals get their disks back). */
async function onTwins(
  recipe: Recipe,
  attached: readonly InventoryVm[],
  sockets: readonly string[],
  options: RehearseOptions,
  reportDir: string | undefined,
): Promise<{ rehearsal: RunJournal; pauses: Record<string, number> }> {
  const originals: Vm[] = [];
  const twins: Twin[] = [];
  const network = await Switch.start("twins", []);
  let outcome: { journal: RunJournal } | { error: unknown };
  try {
    for (const [i, vm] of attached.entries()) {
      const original = await Vm.connect(vm.attach!, { name: vm.name });
      originals.push(original);
      const port = (netdev: string) => network.add(`${vm.name}-${netdev}`);
      const twin = await Twin.clone(original, { qmp: sockets[i]!, port });
      twins.push(twin);
      options.log?.(`${vm.name}: twin up; the original stood still ${twin.pausedMs} ms`);
    }
    const onTwins = { ...recipe, inventory: recipe.inventory.map((vm) => twinned(vm, twins)) };
    const { journal } = await runRecipe(onTwins, {
      seed: options.seed,
      reportDir,
      force: true,
      signal: options.signal,
      listeners: options.listeners,
    });
    outcome = { journal };
  } catch (error) {
    outcome = { error };
  }
  // Every twin is closed and every original let go, even when one of them fails.
  const closed = await Promise.allSettled(twins.map((twin) => twin.close()));
  await Promise.allSettled(originals.map((original) => original.close()));
  await network.close();
  const failed = closed.find((c) => c.status === "rejected");
  if (!failed && twins.length) {
    options.log?.("twins closed; every original runs on its own disks again");
  }
  if ("error" in outcome) throw outcome.error;
  if (failed) throw failed.reason;
  const pauses = Object.fromEntries(twins.map((t) => [t.name, t.pausedMs]));
  return { rehearsal: outcome.journal, pauses };
}

/** The VM as its twin: attached to the twin's QMP, its agent at the twin's socket. */
function twinned(vm: InventoryVm, twins: readonly Twin[]): InventoryVm {
  const twin = twins.find((t) => t.name === vm.name);
  if (!twin) return vm;
  if (vm.agent === undefined) return { ...vm, attach: twin.qmp };
  const address = parseAddress(vm.agent);
  const agent = address.transport === "unix" ? twin.sockets.get(address.path) : undefined;
  if (!agent) {
    throw new ExplorationError(
      `${vm.name}'s agent ${vm.agent} is not a socket its QEMU listens on: its twin cannot have its own`,
      { vm: vm.name },
    );
  }
  return { ...vm, attach: twin.qmp, agent: `unix:${agent}` };
}
