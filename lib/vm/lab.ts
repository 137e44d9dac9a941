/**
 * `Lab`: a named set of VMs, launched in parallel or attached, selected by
 * name, glob or group, and cleaned up together.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { forEachNamed } from "./_each.ts";
import { Fleet, FleetError, type FleetOptions, FleetResult } from "./fleet.ts";
import { launch, type LaunchOptions, type LaunchSpec } from "./launch.ts";
import { type Member, resolveSelector, type Selector } from "./select.ts";
import { Vm, type VmConnectOptions } from "./vm.ts";

/** A launch spec with the groups the VM belongs to. */
export interface LabSpec extends LaunchSpec {
  /** Groups to select the VM by. */
  groups?: readonly string[];
}

/** Options of {@linkcode Lab.launch}. */
export interface LabLaunchOptions extends LaunchOptions {
  /** At most this many QEMUs start at once (start-up is CPU-bound). Default 8. */
  concurrency?: number;
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

  /**
   * Launch every spec, at most `concurrency` at once.
   *
   * @throws {LabLaunchError} Some failed; the ones that started are stopped.
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
    const results = new FleetResult(
      await forEachNamed(specs, (spec, signal) => launch(spec, { ...options, signal }), {
        concurrency: options.concurrency ?? 8,
        // launch() keeps its own deadline; this one only guards against a hang.
        timeout: (options.timeout ?? 30_000) + 30_000,
        signal: options.signal,
      }),
    );
    for (const result of results) {
      if (result.status === "ok") {
        lab.#vms.set(result.vm, {
          vm: result.value,
          groups: specs.find((s) => s.name === result.vm)?.groups ?? [],
        });
      }
    }
    if (!results.ok) {
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

  /** Stop every launched VM and disconnect the attached ones. */
  async shutdown(options: FleetOptions & { grace?: number } = {}): Promise<FleetResult<void>> {
    const result = await new Fleet([...this.#vms.values()].map(({ vm }) => vm)).run(async (vm) => {
      if (vm.launched) await vm[Symbol.asyncDispose]();
      else await vm.close();
    }, { concurrency: 50, timeout: 60_000, ...options });
    this.#vms.clear();
    return result;
  }

  /** Same as {@linkcode Lab.prototype.shutdown} with no grace, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown({ grace: 0 });
  }

  #checkFree(name: string): void {
    if (this.#vms.has(name)) {
      throw new CorralError(`the lab already has a VM named ${JSON.stringify(name)}`);
    }
  }
}
