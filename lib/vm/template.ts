/**
 * Labs cloned from a warm template: one VM per distinct spec boots once,
 * its machine state is saved to a file (QEMU's migration stream), and
 * every VM of that spec starts from it instead of booting, with its own
 * disks and sockets; a clone with a guest agent then gets its identity
 * (its host name) through the agent.
 *
 * @module
 */

import { LaunchError, MigrationError } from "../errors.ts";
import { shellWord } from "../_text.ts";
import { makeVmDir } from "../_runtime_dir.ts";
import { LINUX_READY } from "./guest/linux.ts";
import { debianIdentity } from "./guest/debian.ts";
import { launchedDiskIds } from "./spec.ts";
import { hasAgentChannel, launch, type LaunchOptions, type LaunchSpec } from "./launch.ts";
import type { Vm } from "./vm.ts";
import { migrationEnd, untilSettled } from "./_migration.ts";
import { withBuiltinGuest } from "./_start.ts";
import {
  cachedTemplate,
  cachingTemplates,
  templateCacheDir,
  templateDraft,
  templateKey,
} from "./_template_cache.ts";

/** Saved states by spec, and how to remove them. */
export interface Templates {
  /** The state file a spec's VMs start from, if it asked for a warm template. */
  stateOf(spec: LaunchSpec): string | undefined;
  /**
   * The spec a clone launches with: each disk an overlay of the template's
   * disk as it was saved, so the memory it restores and its disks agree.
   */
  cloneSpec<S extends LaunchSpec>(spec: S): S;
  /** Remove the state files (and the template's disks) of this run; the cache's stay. */
  remove(): Promise<void>;
  /** How many templates came from the cache, not booted. */
  reused: number;
}

/** Launch options, and where templates are kept across runs. */
export interface TemplateOptions extends LaunchOptions {
  /**
   * The directory saved templates are kept in across runs (default
   * `~/.cache/corral/templates`; `CORRAL_TEMPLATE_CACHE=off` or `false`:
   * none, each run boots its templates).
   */
  templateCache?: string | false;
}

/** One saved template: its machine state and its disks, in the spec's order. */
interface Saved {
  state: string;
  disks: string[];
  cached?: boolean;
}

/** What the clones of two specs share: everything but their names. */
function key(spec: LaunchSpec): string {
  const { name: _, ...rest } = spec as LaunchSpec & Record<string, unknown>;
  for (const field of ["groups", "attach", "agentAddress"]) delete rest[field];
  return JSON.stringify(rest);
}

/**
 * Boot one template VM per distinct spec among those with
 * `template: "warm"`, wait until its guest is ready, save its state, and
 * stop it.
 *
 * @throws {LaunchError} A template could not boot or be saved.
 */
export async function prepareTemplates(
  specs: readonly LaunchSpec[],
  options: TemplateOptions,
): Promise<Templates> {
  const states = new Map<string, Saved>();
  const dirs: string[] = [];
  const remove = async () => {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const spec of specs.filter((s) => s.template === "warm")) {
      if (states.has(key(spec))) continue;
      if (spec.nics?.length) {
        throw new LaunchError("template: warm does not take lab networks yet", { vm: spec.name });
      }
      if (spec.disks?.some((disk) => "file" in disk)) {
        throw new LaunchError("template: warm cannot share a disk file of yours among clones", {
          vm: spec.name,
        });
      }
      if (spec.host !== undefined && launchedDiskIds(spec).length) {
        throw new LaunchError("template: warm with disks on SSH hosts is not supported yet", {
          vm: spec.name,
        });
      }
      states.set(key(spec), await templateFor(spec, options, dirs));
    }
  } catch (error) {
    await remove();
    throw error;
  }
  const savedOf = (spec: LaunchSpec) =>
    spec.template === "warm" ? states.get(key(spec)) : undefined;
  return {
    reused: [...states.values()].filter((saved) => saved.cached).length,
    stateOf: (spec) => savedOf(spec)?.state,
    cloneSpec: (spec) => {
      const saved = savedOf(spec);
      if (!saved?.disks.length) return spec;
      // Each clone's disk keeps its name (faults and backups address it); root is the guest's.
      const names = launchedDiskIds(spec);
      return { ...spec, disks: saved.disks.map((base, i) => ({ name: names[i]!, base })) };
    },
    remove,
  };
}

/**
 * A Debian template boots with `init_on_free=1` and drops its caches before
 * it is saved: freed pages are then zero, which QEMU's stream skips — the
 * state, and every clone's restore, is half the size (206 → 113 MB). The
 * clones inherit the setting with the template's memory.
 */
function smallState(spec: LaunchSpec): { append?: string } {
  if (spec.guest !== "builtin:debian") return {};
  return { append: spec.append ? `${spec.append} init_on_free=1` : "init_on_free=1" };
}

/** The template saved in `dir`: its state and its `count` disks. */
function savedIn(dir: string, count: number): Saved {
  return {
    state: `${dir}/state`,
    disks: [...Array(count).keys()].map((i) => `${dir}/disk${i}.qcow2`),
  };
}

/**
 * The saved template of `spec`: from the cache when one was saved for the
 * same spec, files and QEMU build; else booted and saved (into the cache,
 * or into a directory of the run's, listed in `dirs` to remove).
 */
async function templateFor(
  spec: LaunchSpec,
  options: TemplateOptions,
  dirs: string[],
): Promise<Saved & { cached: boolean }> {
  const count = launchedDiskIds(spec).length;
  const cache = options.templateCache ?? (cachingTemplates() ? templateCacheDir() : false);
  if (spec.host !== undefined || cache === false) {
    const dir = await makeVmDir(`${spec.name}-state`);
    dirs.push(dir);
    await saveTemplate(spec, dir, options);
    return { ...savedIn(dir, count), cached: false };
  }
  const resolved = await withBuiltinGuest(spec, false);
  const qemu = spec.qemu ?? Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
  const id = await templateKey(key(spec), resolved, qemu);
  const hit = await cachedTemplate(cache, id.id);
  if (hit) return { ...savedIn(hit, count), cached: true };
  const draft = await templateDraft(cache, id);
  try {
    await saveTemplate(spec, draft.dir, options);
  } catch (error) {
    await draft.discard();
    throw error;
  }
  return { ...savedIn(await draft.publish(), count), cached: false };
}

async function saveTemplate(
  spec: LaunchSpec,
  dir: string,
  options: LaunchOptions,
): Promise<void> {
  const file = `${dir}/state`;
  const name = `${spec.name.slice(0, 50)}-template`;
  await using vm = await launch({ ...spec, name, template: undefined, ...smallState(spec) }, {
    ...options,
    restore: undefined,
  });
  const timeout = Math.max(options.timeout ?? 30_000, 120_000);
  if (hasAgentChannel(spec)) {
    await vm.agent.waitReady({ timeout });
    // Debian's agent answers before systemd is done: clones should wake up booted.
    if (spec.guest === "builtin:debian") {
      await vm.agent.exec("systemctl is-system-running --wait", { timeout });
    }
  } else if (spec.guest === "builtin:linux") await vm.console.waitFor(LINUX_READY, { timeout });
  else if ((spec.guest ?? "builtin:tiny") === "builtin:tiny") {
    await vm.console.waitFor("READY", { timeout });
  } else {
    throw new LaunchError(
      "template: warm needs a guest corral can tell is ready: builtin:tiny, builtin:linux, " +
        "or one with an agent",
      { vm: spec.name },
    );
  }
  if (smallState(spec).append) {
    await vm.agent.exec("sync; echo 3 > /proc/sys/vm/drop_caches", { timeout });
  }
  await saveState(vm, file, timeout);
  // The disks as the saved memory knows them (the template's boot wrote to them): kept, read
  // only, as the base of every clone's disks. The state was saved with them flushed.
  for (const i of launchedDiskIds(spec).keys()) {
    const [from, kept] = [`${vm.dir}/disk${i}.qcow2`, `${dir}/disk${i}.qcow2`];
    await Deno.link(from, kept).catch(() => Deno.copyFile(from, kept)); // the cache: another disk
    await Deno.chmod(kept, 0o400);
  }
}

/**
 * Save a running VM's machine state to `file` (QEMU's migration stream;
 * the VM ends paused in `postmigrate`).
 *
 * @throws {MigrationError} QEMU could not write it.
 */
export async function saveState(vm: Vm, file: string, timeout = 120_000): Promise<void> {
  await vm.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: true }],
  });
  await vm.execute("migrate-set-parameters", { "max-bandwidth": 8 * 1024 ** 3 });
  const since = vm.mark();
  await vm.execute("migrate", { uri: `exec:cat > ${shellWord(file)}` });
  const ended = await migrationEnd(vm.client.journal, since, timeout);
  if (ended !== "completed") {
    throw new MigrationError(`saving the state to ${file} ${ended}`, { vm: vm.name });
  }
  await untilSettled(vm, timeout);
}

/**
 * Give a clone its identity through its agent: its host name; a
 * `builtin:debian` one also its machine-id, SSH host keys and the SSH key
 * corral made for it (the template's were made at the template's boot).
 */
export async function giveIdentity(vm: Vm, spec: LaunchSpec, timeout = 60_000): Promise<void> {
  if (!vm.hasAgent) return;
  await vm.agent.waitReady({ timeout });
  const key = spec.guest === "builtin:debian"
    ? await Deno.readTextFile(`${vm.dir}/ssh_key.pub`).catch(() => undefined)
    : undefined;
  const command = spec.guest === "builtin:debian"
    ? debianIdentity(vm.name, key)
    : `hostname ${shellWord(vm.name)}`;
  const set = await vm.agent.exec(command, { timeout });
  if (set.exitCode !== 0) {
    throw new LaunchError(`the clone could not take its host name: ${set.stderr.trim()}`, {
      vm: vm.name,
    });
  }
}
