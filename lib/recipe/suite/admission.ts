/**
 * Admission by memory: a recipe starts only while what it declares fits
 * the suite's budget beside what already runs, so a suite never
 * overcommits the machine (kola's `--parallel` does; coreos-assembler#1160).
 *
 * @module
 */

import { guestOf, imageGuest, type LaunchSpec } from "../../vm/spec.ts";

/** What a QEMU process takes besides its guest's memory (TCG's code buffer, devices), in MiB. */
export const QEMU_OVERHEAD_MIB = 64;

/**
 * A VM's memory as QEMU gets it (`memory`, else the guest's default) plus
 * QEMU's own, in MiB.
 *
 * @example
 * ```ts
 * import { vmMemoryMiB } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(vmMemoryMiB({ name: "a", guest: "builtin:linux", memory: "1G" }), 1024 + 64);
 * assert.equal(vmMemoryMiB({ name: "b" }), 16 + 64); // builtin:tiny
 * ```
 */
export function vmMemoryMiB(spec: LaunchSpec): number {
  return guestMemoryMiB(spec) + QEMU_OVERHEAD_MIB;
}

function guestMemoryMiB(spec: LaunchSpec): number {
  const memory = spec.memory;
  if (typeof memory === "number") return memory;
  if (typeof memory === "string") {
    const match = /^(\d+)([KMGT]?)$/i.exec(memory);
    if (match) {
      const unit = match[2]!.toUpperCase();
      const scale = unit === "K" ? 1 / 1024 : unit === "G" ? 1024 : unit === "T" ? 1024 ** 2 : 1;
      return Math.ceil(Number(match[1]) * scale);
    }
  }
  const guest = guestOf(spec);
  if (guest === "builtin:tiny") return 16;
  if (guest === "none") return 0;
  return guest === "builtin:debian" || imageGuest(spec) !== undefined ? 512 : 256;
}

/** The default budget: 80 % of the memory this machine has available now (`/proc/meminfo`). */
export function defaultBudgetMiB(): number {
  try {
    const meminfo = Deno.readTextFileSync("/proc/meminfo");
    const kib = Number(/^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1]);
    if (kib > 0) return Math.floor(kib / 1024 * 0.8);
  } catch {
    // not Linux: the fallback below
  }
  return 4096;
}

/**
 * A memory budget shared by runs: `admit` waits until `mib` fits beside
 * what is held (one run alone may exceed the budget: else it never runs),
 * and returns the release.
 */
export class MemoryBudget {
  #held = 0;
  #running = 0;
  #waiting: (() => void)[] = [];

  constructor(readonly budgetMiB: number) {}

  /** The MiB held now. */
  get held(): number {
    return this.#held;
  }

  /** Whether `mib` would be admitted now. */
  fits(mib: number): boolean {
    return this.#running === 0 || this.#held + mib <= this.budgetMiB;
  }

  /**
   * Wait until `mib` fits (or `signal` aborts), hold it; the release gives
   * it back, `held` is what was held with it at that moment.
   */
  async admit(mib: number, signal?: AbortSignal): Promise<{ release: () => void; held: number }> {
    while (!this.fits(mib)) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    this.#held += mib;
    this.#running++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#held -= mib;
      this.#running--;
      for (const wake of this.#waiting.splice(0)) wake();
    };
    return { release, held: this.#held };
  }
}
