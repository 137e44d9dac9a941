/**
 * How a VM is launched: deadlines, paused or as a migration's destination,
 * restored from a saved state, where (hosts), kept after corral.
 *
 * @module
 */

import type { QmpTrace } from "../qmp/client.ts";
import type { Host } from "../host/host.ts";

/** Options of {@linkcode launch}. */
export interface LaunchOptions {
  /** Deadline for start-up: QEMU listening and QMP negotiated, in ms. Default 30,000. */
  timeout?: number;
  /** Default command deadline of the VM, in ms. Default 30,000. */
  commandTimeout?: number;
  /** Leave the VM paused before its first instruction (QEMU `-S`). Default `false`. */
  paused?: boolean;
  /**
   * Start as the destination of a live migration (`-incoming defer`): the
   * VM waits in `inmigrate` for `vm.migrateTo` on the source. Launch it from
   * the same spec (devices must match). Default `false`.
   */
  incoming?: boolean;
  /**
   * Start from a machine state saved to this file (see `Lab.launch` and
   * `template: "warm"`) instead of booting: the same spec's devices, the
   * guest resumes where the state was saved. Default: boot.
   */
  restore?: string;
  /**
   * The name of this QEMU instance (its `-name`, process name and
   * directory) when it differs from the VM's: the destination of
   * `vm.migrate()` is `NAME-m1` while the VM keeps its name. Default: the
   * spec's name.
   */
  instance?: string;
  /**
   * How long a freshly started QEMU may take to answer qmp_capabilities
   * after its greeting before it is stopped and started once more (a rare
   * stall, see `Machine.start`), in ms. Default 12,000.
   */
  negotiationTimeout?: number;
  /** The hosts a spec's `host` may name, connected (see `host/registry.ts`). */
  hosts?: ReadonlyMap<string, Host> | undefined;
  /** Abandons the launch (QEMU is killed). */
  signal?: AbortSignal;
  /**
   * Let QEMU outlive this program (as `corral run --keep` does); `corral ps`
   * lists it as kept. Default `false`: QEMU dies with this program, even
   * when it is killed with SIGKILL.
   */
  keep?: boolean;
  /** See every QMP message, from the greeting on (as `vm.trace`, set before connecting). */
  trace?: QmpTrace | undefined;
}
