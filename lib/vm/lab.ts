/**
 * `Lab`: a named set of VMs, launched in parallel or attached, selected by
 * name, glob or group, and cleaned up together.
 *
 * @module
 */

import { CorralError, HostError } from "../errors.ts";
import { forEachNamed } from "./_each.ts";
import { Fleet, FleetError, type FleetOptions, FleetResult } from "./fleet.ts";
import { launch, type LaunchOptions, type LaunchSpec } from "./launch.ts";
import { type Member, resolveSelector, type Selector } from "./select.ts";
import { type DetachedVm, Vm, type VmConnectOptions } from "./vm.ts";
import { giveIdentity, prepareTemplates, type Templates } from "./template.ts";
import { type LabCheckpoint, rekey, restoredSpec, type SavedVm } from "./checkpoint.ts";
import { buildGuests } from "./_start.ts";
import type { Host } from "../host/host.ts";
import type { HostSpec } from "../host/spec.ts";
import { attachKindOf, connectHost } from "../host/registry.ts";

/**
 * Launch a VM: from the checkpoint's state when it holds the VM (with a
 * fresh key), else from a template's saved state (with its identity), else
 * booted.
 */
async function launchOrClone(
  spec: LabSpec,
  options: LaunchOptions,
  templates: Templates,
  saved: SavedVm | undefined,
): Promise<Vm> {
  const timeout = options.timeout ?? 60_000;
  if (saved) {
    const restore = { ...options, restore: saved.state, paused: !saved.running };
    return await settled(
      launch(restoredSpec(spec, saved), restore),
      (vm) => rekey(vm, spec, timeout),
    );
  }
  const state = templates.stateOf(spec);
  if (state === undefined) return await launch(spec, options);
  const clone = launch(templates.cloneSpec(spec), { ...options, restore: state });
  return await settled(clone, (vm) => giveIdentity(vm, spec, timeout));
}

/** The VM once `then` is done with it; stopped again when `then` fails. */
async function settled(launched: Promise<Vm>, then: (vm: Vm) => Promise<void>): Promise<Vm> {
  const vm = await launched;
  try {
    await then(vm);
  } catch (error) {
    await vm.dispose();
    throw error;
  }
  return vm;
}

/** A launch spec with the groups the VM belongs to, or the address of a QEMU to attach. */
export interface LabSpec extends LaunchSpec {
  /** Groups to select the VM by. */
  groups?: readonly string[];
  /**
   * Attach to this QEMU (`unix:/path` or `tcp:host:port`) instead of
   * launching one: corral never stops or kills it.
   */
  attach?: string | undefined;
  /** With `attach`: the guest agent's socket (`unix:/path`), for `vm.agent`. */
  agentAddress?: string | undefined;
}

/** Options of {@linkcode Lab.launch}. */
export interface LabLaunchOptions extends Omit<LaunchOptions, "hosts"> {
  /** At most this many QEMUs start at once (start-up is CPU-bound). Default 8. */
  concurrency?: number;
  /** The hosts specs may name with `host` (SSH unless their `kind` says); each reached once. */
  hosts?: readonly HostSpec[];
  /**
   * Keep what could be launched when some VMs could not (an unreachable
   * host, say): their errors are in `lab.failures` instead of a
   * `LabLaunchError`. Default `false`.
   */
  partial?: boolean;
  /**
   * Where saved `template: warm` templates are kept across runs, keyed by
   * spec, guest files and QEMU build (default `~/.cache/corral/templates`;
   * `false`, or `CORRAL_TEMPLATE_CACHE=off`: each launch boots its own).
   */
  templateCache?: string | false;
  /**
   * Start the VMs a checkpoint holds from it (their state, their disks as
   * saved) instead of booting them (see `saveCheckpoint`).
   */
  checkpoint?: LabCheckpoint;
}

/** Some VMs of a lab could not be launched; those that could were stopped again. */
export class LabLaunchError extends FleetError {}

/**
 * A named set of VMs. Launched ones are stopped when the lab is disposed;
 * attached ones are only disconnected.
 *
 * @example
 * ```ts
 * import { Lab } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using lab = await Lab.launch([
 *   { name: "db1", groups: ["db"] },
 *   { name: "web1", groups: ["web"] },
 * ]);
 * await lab.select("all").run((vm) => vm.console.waitFor("READY"));
 * const db = lab.vm("db1");
 * await db.injectNmi();
 * await db.waitFor("GUEST_PANICKED");
 * await db.reset();
 * await db.console.waitFor("READY");
 * assert.equal((await lab.vm("web1").status()).status, "running");
 * ```
 */
export class Lab implements AsyncDisposable {
  #vms = new Map<string, { vm: Vm; groups: readonly string[] }>();
  #templates: Templates | undefined;

  /** How many of the lab's templates came from the cache instead of a boot. */
  get reusedTemplates(): number {
    return this.#templates?.reused ?? 0;
  }
  #hosts = new Map<string, Host>();
  #failures: { vm: string; error: Error }[] = [];
  /** What reaching attached VMs set up (forwards, proxies), undone after they are closed. */
  #releases: (() => Promise<void>)[] = [];

  /** With `partial`: the VMs that could not be brought up, with why. */
  get failures(): readonly { vm: string; error: Error }[] {
    return this.#failures;
  }

  /** Whether the host `name` still answers (for SSH: its connection serves). */
  async hostUp(name: string): Promise<boolean> {
    return await this.#hosts.get(name)?.alive() ?? false;
  }

  /**
   * Launch every spec (or attach, for a spec with `attach`), at most
   * `concurrency` at once.
   *
   * @throws {LabLaunchError} Some failed; the ones that started are stopped
   *   (the attached ones disconnected).
   */
  static async launch(specs: readonly LabSpec[], options: LabLaunchOptions = {}): Promise<Lab> {
    const lab = new Lab();
    const names = new Set<string>();
    for (const spec of specs) {
      if (names.has(spec.name)) {
        throw new CorralError(`the lab names ${JSON.stringify(spec.name)} twice`);
      }
      names.add(spec.name);
    }
    // Built-in guests are built first, once each: a build is not a VM's launch, nor its deadline.
    await buildGuests(specs.filter((spec) => spec.attach === undefined && spec.host === undefined));
    const unreachable = await lab.#connectHosts(specs, options);
    const hostOf = (spec: LabSpec) => Lab.#hostOf(spec, options) ?? "";
    const hosts = lab.#hosts;
    const savedOf = (spec: LabSpec) => options.checkpoint?.vms.find((vm) => vm.name === spec.name);
    const templates = await prepareTemplates(
      specs.filter((s) => s.attach === undefined && !unreachable.has(hostOf(s)) && !savedOf(s)),
      { ...options, hosts },
    ).catch(async (error) => {
      await lab.shutdown();
      throw error;
    });
    lab.#templates = templates;
    const results = new FleetResult(
      await forEachNamed(
        specs,
        (spec, signal) =>
          unreachable.has(hostOf(spec))
            ? Promise.reject(unreachable.get(hostOf(spec)))
            : attachKindOf(spec.attach)
            ? lab.#attachThrough(spec, options, signal)
            : spec.attach === undefined
            ? launchOrClone(spec, { ...options, hosts, signal }, templates, savedOf(spec))
            : Vm.connect(spec.attach, {
              name: spec.name,
              agent: spec.agentAddress,
              signal,
              trace: options.trace,
              commandTimeout: options.commandTimeout,
            }),
        {
          concurrency: options.concurrency ?? 8,
          // launch() keeps its own deadline; this one only guards against a hang.
          timeout: (options.timeout ?? 30_000) + 30_000,
          signal: options.signal,
        },
      ),
    );
    for (const result of results) {
      if (result.status === "ok") {
        lab.#vms.set(result.vm, {
          vm: result.value,
          groups: specs.find((s) => s.name === result.vm)?.groups ?? [],
        });
      }
    }
    if (!results.ok && options.partial) {
      lab.#failures = results.failed.map((r) => ({
        vm: r.vm,
        error: r.status === "ok" ? new Error("") : r.error,
      }));
    } else if (!results.ok) {
      await lab.shutdown({ grace: 0 });
      const lines = results.failed.map((r) =>
        `  ${r.vm}: ${r.status === "ok" ? "" : r.error.message}`
      );
      throw new LabLaunchError(
        `${results.failed.length} of ${specs.length} VM(s) could not be launched:\n${
          lines.join("\n")
        }`,
        results.results,
      );
    }
    return lab;
  }

  /** Launch one more VM into the lab. */
  async add(spec: LabSpec, options: LaunchOptions = {}): Promise<Vm> {
    this.#checkFree(spec.name);
    const vm = await launch(spec, options);
    this.#vms.set(spec.name, { vm, groups: spec.groups ?? [] });
    return vm;
  }

  /** Attach to a QEMU that corral did not start (`unix:/path` or `tcp:host:port`). */
  async attach(
    name: string,
    address: string,
    options: VmConnectOptions & { groups?: readonly string[] } = {},
  ): Promise<Vm> {
    this.#checkFree(name);
    const vm = await Vm.connect(address, { ...options, name });
    this.#vms.set(name, { vm, groups: options.groups ?? [] });
    return vm;
  }

  /** The VMs' names, in the order they were added. */
  get names(): string[] {
    return [...this.#vms.keys()];
  }

  /** Every VM with its groups, for selectors. */
  get members(): Member[] {
    return [...this.#vms].map(([name, { groups }]) => ({ name, groups }));
  }

  /**
   * The VM named `name`.
   *
   * @throws {CorralError} No VM has that name.
   */
  vm(name: string): Vm {
    const entry = this.#vms.get(name);
    if (!entry) throw new CorralError(`the lab has no VM named ${JSON.stringify(name)}`);
    return entry.vm;
  }

  /** The VMs a selector picks (name, glob, group, `all`, a list; see `resolveSelector`). */
  select(selector: Selector): Fleet {
    return new Fleet(resolveSelector(selector, this.members).map((name) => this.vm(name)));
  }

  /** Every VM. */
  all(): Fleet {
    return this.select("all");
  }

  /**
   * Stop every launched VM (the ACPI power button and `grace` ms first,
   * default 0) and remove its files; disconnect the attached ones.
   */
  async shutdown(options: FleetOptions & { grace?: number } = {}): Promise<FleetResult<void>> {
    const grace = options.grace ?? 0;
    const result = await new Fleet(this.#all()).run((vm) => vm.dispose({ grace }), {
      concurrency: 50,
      timeout: 60_000 + grace,
      ...options,
    });
    this.#vms.clear();
    await this.#templates?.remove();
    await this.#closeHosts();
    return result;
  }

  /**
   * Leave every launched VM running after this program (`--keep`) and
   * disconnect from all; resolves to the launched VMs still running, with
   * their sockets. The lab is empty afterwards.
   */
  async detach(): Promise<DetachedVm[]> {
    const detached = await Promise.all(this.#all().map((vm) => vm.detach()));
    this.#vms.clear();
    await this.#templates?.remove(); // clones run on without their saved state
    await this.#closeHosts();
    return detached.filter((vm) => vm !== undefined);
  }

  /** Same as {@linkcode Lab.prototype.shutdown} with no grace, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ grace: 0 });
  }

  /**
   * Connect every host a spec names (`host`, or the host of its attach
   * address); resolves to the ones that failed, with why.
   */
  async #connectHosts(
    specs: readonly LabSpec[],
    options: LabLaunchOptions,
  ): Promise<Map<string, Error>> {
    // Every host given is connected, also one no VM starts on: it may be a migration's target.
    const wanted = new Map<string, HostSpec | undefined>(
      (options.hosts ?? []).map((host) => [host.name, host]),
    );
    for (const spec of specs) {
      const host = attachKindOf(spec.attach)?.hostOf?.(spec.attach!, options.hosts ?? []);
      if (host) wanted.set(host.name, host);
      else if (spec.host !== undefined) {
        wanted.set(spec.host, options.hosts?.find((h) => h.name === spec.host));
      }
    }
    const failed = new Map<string, Error>();
    await Promise.all([...wanted].map(async ([name, spec]) => {
      if (!spec) {
        failed.set(name, new HostError("is not among the lab's hosts", { host: name }));
        return;
      }
      try {
        this.#hosts.set(name, await connectHost(spec));
      } catch (error) {
        failed.set(name, error as Error);
      }
    }));
    return failed;
  }

  /** The host a spec needs: its `host`, or its attach address's. */
  static #hostOf(spec: LabSpec, options: LabLaunchOptions): string | undefined {
    const kind = attachKindOf(spec.attach);
    return kind ? kind.hostOf?.(spec.attach!, options.hosts ?? [])?.name : spec.host;
  }

  /** Attach through the attach kind of the spec's address (forwards, a proxy), then connect. */
  async #attachThrough(spec: LabSpec, options: LabLaunchOptions, signal: AbortSignal): Promise<Vm> {
    const kind = attachKindOf(spec.attach)!;
    const hostName = kind.hostOf?.(spec.attach!, options.hosts ?? [])?.name;
    const attached = await kind.open(spec.attach!, {
      vm: spec.name,
      agent: spec.agentAddress,
      host: hostName === undefined ? undefined : this.#hosts.get(hostName),
      hosts: options.hosts ?? [],
    });
    try {
      const vm = await Vm.connect(attached.qmp, {
        name: spec.name,
        agent: attached.agent,
        signal,
        trace: options.trace,
        commandTimeout: options.commandTimeout,
        eventDataAsText: attached.eventDataAsText,
      });
      this.#releases.push(attached.release);
      return vm;
    } catch (error) {
      await attached.release();
      throw error;
    }
  }

  async #closeHosts(): Promise<void> {
    for (const release of this.#releases.splice(0)) await release();
    await Promise.all([...this.#hosts.values()].map((host) => host.close()));
    this.#hosts.clear();
  }

  #all(): Vm[] {
    return [...this.#vms.values()].map(({ vm }) => vm);
  }

  #checkFree(name: string): void {
    if (this.#vms.has(name)) {
      throw new CorralError(`the lab already has a VM named ${JSON.stringify(name)}`);
    }
  }
}
