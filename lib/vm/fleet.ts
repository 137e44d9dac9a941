/**
 * Fleet calls: one action fanned out over many VMs at once, with a result
 * per VM. A VM that hangs or dies never blocks or fails the others.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { forEachNamed } from "./_each.ts";
import type { FleetOptions, VmResult } from "./fleet_options.ts";
import type { ExecuteOptions } from "../qmp/client.ts";
import type {
  CommandArguments,
  CommandName,
  CommandReturn,
  EventName,
  Liveness,
  StatusInfo,
  TypedEvent,
  Vm,
  WaitForOptions,
} from "./vm.ts";
import type { QmpEventMap } from "../qmp/qapi.ts";

export type { FleetOptions, VmResult } from "./fleet_options.ts";

/** Some VMs of a fleet call failed or timed out. */
export class FleetError extends CorralError {
  /** Every VM's result, the failed ones included. */
  readonly results: readonly VmResult<unknown>[];

  /** Make an error from the results of a call. */
  constructor(message: string, results: readonly VmResult<unknown>[]) {
    super(message);
    this.results = results;
  }
}

/** The results of a fleet call, one per VM, in the fleet's order. */
export class FleetResult<T> implements Iterable<VmResult<T>> {
  /** Every VM's result. */
  readonly results: readonly VmResult<T>[];

  /** Wrap per-VM results. */
  constructor(results: readonly VmResult<T>[]) {
    this.results = results;
  }

  /** Whether every VM succeeded. */
  get ok(): boolean {
    return this.results.every((result) => result.status === "ok");
  }

  /** The results that are not `ok`. */
  get failed(): VmResult<T>[] {
    return this.results.filter((result) => result.status !== "ok");
  }

  /** The value for each VM that succeeded, by name. */
  get values(): Map<string, T> {
    return new Map(
      this.results.flatMap((result) => result.status === "ok" ? [[result.vm, result.value]] : []),
    );
  }

  /** The result of the VM named `name`. */
  get(name: string): VmResult<T> | undefined {
    return this.results.find((result) => result.vm === name);
  }

  /**
   * Return `this` when every VM succeeded.
   *
   * @throws {FleetError} Naming each VM that failed and why.
   */
  orThrow(): this {
    const failed = this.failed;
    if (failed.length === 0) return this;
    const lines = failed.map((result) =>
      `  ${result.vm}: ${result.status === "ok" ? "" : result.error.message}`
    );
    throw new FleetError(
      `${failed.length} of ${this.results.length} VM(s) failed:\n${lines.join("\n")}`,
      this.results,
    );
  }

  /** The results, in the fleet's order. */
  [Symbol.iterator](): Iterator<VmResult<T>> {
    return this.results[Symbol.iterator]();
  }
}

/**
 * A set of VMs to act on together. Every call resolves to a
 * {@linkcode FleetResult}; it never rejects because one VM failed.
 *
 * @example
 * ```ts
 * import { Lab } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using lab = await Lab.launch([
 *   { name: "web1", guest: "none", groups: ["web"] },
 *   { name: "web2", guest: "none", groups: ["web"] },
 * ]);
 * const paused = await lab.select("web*").pause();
 * assert.ok(paused.ok);
 * const statuses = await lab.select("web").status();
 * assert.equal(statuses.values.get("web2")?.status, "paused");
 * ```
 */
export class Fleet {
  /** The VMs, in order. */
  readonly vms: readonly Vm[];

  /** A fleet of `vms`. */
  constructor(vms: readonly Vm[]) {
    this.vms = vms;
  }

  /** The VMs' names. */
  get names(): string[] {
    return this.vms.map((vm) => vm.name);
  }

  /**
   * Run `action` on every VM, at most `concurrency` at once, each within
   * its own deadline. `action` gets a signal that aborts at that deadline.
   */
  async run<T>(
    action: (vm: Vm, signal: AbortSignal) => Promise<T>,
    options: FleetOptions = {},
  ): Promise<FleetResult<T>> {
    return new FleetResult(await forEachNamed(this.vms, action, { concurrency: 20, ...options }));
  }

  /** `vm.execute()` on every VM. */
  execute<C extends CommandName>(
    command: C,
    args?: CommandArguments<C>,
    options: FleetOptions = {},
  ): Promise<FleetResult<CommandReturn<C>>> {
    return this.run(
      (vm, signal) =>
        vm.executeUntyped(command, args as Record<string, unknown> | undefined, {
          ...deadline(options),
          signal,
        }) as Promise<CommandReturn<C>>,
      options,
    );
  }

  /** `vm.status()` on every VM. */
  status(options: FleetOptions = {}): Promise<FleetResult<StatusInfo>> {
    return this.run((vm, signal) => vm.status({ ...deadline(options), signal }), options);
  }

  /** `vm.pause()` on every VM: each resolves once its STOP is seen. */
  pause(options: FleetOptions = {}): Promise<FleetResult<void>> {
    return this.run((vm, signal) => vm.pause({ ...deadline(options), signal }), options);
  }

  /** `vm.resume()` on every VM: each resolves once its RESUME is seen. */
  resume(options: FleetOptions = {}): Promise<FleetResult<void>> {
    return this.run((vm, signal) => vm.resume({ ...deadline(options), signal }), options);
  }

  /** `vm.reset()` on every VM. */
  reset(options: FleetOptions = {}): Promise<FleetResult<void>> {
    return this.run((vm, signal) => vm.reset({ ...deadline(options), signal }), options);
  }

  /** `vm.injectNmi()` on every VM. */
  injectNmi(options: FleetOptions = {}): Promise<FleetResult<void>> {
    return this.run((vm, signal) => vm.injectNmi({ ...deadline(options), signal }), options);
  }

  /** `vm.waitFor()` on every VM. */
  waitFor<E extends EventName>(
    event: E | readonly E[],
    options: FleetOptions & Omit<WaitForOptions<QmpEventMap[E]>, "signal" | "timeout"> = {},
  ): Promise<FleetResult<TypedEvent<E>>> {
    return this.run(
      (vm, signal) =>
        vm.waitFor(event, {
          match: options.match,
          since: options.since,
          ...deadline(options),
          signal,
        }),
      options,
    );
  }

  /** `vm.liveness()` on every VM; `timeout` is the probe's deadline (default 1,000 ms). */
  liveness(options: FleetOptions = {}): Promise<FleetResult<Liveness>> {
    const probe = options.timeout ?? 1000;
    // The probe's own deadline decides "wedged"; the fleet's only guards against a hang.
    return this.run((vm) => vm.liveness({ timeout: probe }), { ...options, timeout: probe + 5000 });
  }

  /** `vm.shutdown()` on every VM. */
  shutdown(
    options: FleetOptions & { grace?: number } = {},
  ): Promise<FleetResult<Deno.CommandStatus | undefined>> {
    return this.run((vm) => vm.shutdown({ grace: options.grace }), { timeout: 60_000, ...options });
  }

  /** `vm.kill()` on every VM. */
  kill(options: FleetOptions = {}): Promise<FleetResult<Deno.CommandStatus>> {
    return this.run((vm, signal) => vm.kill({ timeout: options.timeout, signal }), options);
  }
}

function deadline(options: FleetOptions): Pick<ExecuteOptions, "timeout"> {
  return options.timeout === undefined ? {} : { timeout: options.timeout };
}
