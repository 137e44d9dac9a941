/**
 * A starved CPU without root: the QEMU process is stopped and continued in
 * turn (SIGSTOP/SIGCONT), so that it runs `percent` of each period — what
 * the `cpulimit` tool does. Kernel CPU quotas (cgroups) need root here;
 * signals need only the process. QMP answers within a period.
 *
 * @module
 */

import { CorralError } from "../errors.ts";

/** A running CPU limit: {@linkcode CpuLimit.lift} ends it and leaves QEMU running. */
export interface CpuLimit {
  /** The share of each period QEMU runs, 1–99. */
  readonly percent: number;
  /** The period in ms. */
  readonly periodMs: number;
  /** End the limit: QEMU continues (SIGCONT) and runs freely. */
  lift(): void;
}

/** What {@linkcode limitCpu} needs of a VM. */
export interface SignalledVm {
  /** The VM's name, for errors. */
  readonly name: string;
  /** Set once its QEMU exited. */
  readonly exitStatus: unknown;
  /** Send its QEMU process a signal. */
  signalProcess(signal: Deno.Signal): void;
}

/**
 * Let a VM's QEMU run only `percent` of each `periodMs` (default 100 ms)
 * until the limit is lifted.
 *
 * @example
 * ```ts ignore
 * const limit = limitCpu(vm, 20);
 * // … the guest gets a fifth of a CPU …
 * limit.lift();
 * ```
 *
 * @throws {CorralError} `percent` is not 1–99, or QEMU is not running.
 */
export function limitCpu(vm: SignalledVm, percent: number, periodMs = 100): CpuLimit {
  if (!(percent >= 1 && percent <= 99)) {
    throw new CorralError(`a CPU limit is 1–99 %, not ${percent}`, { vm: vm.name });
  }
  const phase = { true: (periodMs * percent) / 100, false: (periodMs * (100 - percent)) / 100 };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lifted = false;
  const turn = (running: boolean) => {
    if (lifted || vm.exitStatus !== undefined) return;
    try {
      vm.signalProcess(running ? "SIGCONT" : "SIGSTOP");
    } catch {
      return; // QEMU went: nothing left to limit.
    }
    timer = setTimeout(() => turn(!running), phase[`${running}`]);
  };
  vm.signalProcess("SIGSTOP"); // Throws at once when QEMU is not running.
  timer = setTimeout(() => turn(true), phase.false);
  return {
    percent,
    periodMs,
    lift() {
      lifted = true;
      clearTimeout(timer);
      if (vm.exitStatus === undefined) vm.signalProcess("SIGCONT");
    },
  };
}
