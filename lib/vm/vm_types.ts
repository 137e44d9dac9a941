/**
 * The types of the `Vm` API: typed commands and events (from the generated
 * QAPI types), and the options and results of its operations.
 *
 * @module
 */

import type { ExecuteOptions, QmpConnectOptions } from "../qmp/client.ts";
import type { QmpEvent } from "../qmp/journal.ts";
import type { QmpCommandMap, QmpEventMap, QueryStatusReturnStatus } from "../qmp/qapi.ts";
import type { Console } from "./console.ts";
import type { Machine } from "./machine.ts";

/** A VM's run state as `query-status` reports it. */
export type RunState = QueryStatusReturnStatus;

/** The reply of `query-status`. */

/** A command name this QEMU version's types know. */
export type CommandName = keyof QmpCommandMap;
/** The arguments of command `C`. */
export type CommandArguments<C extends CommandName> = QmpCommandMap[C]["arguments"];
/** The return value of command `C`. */
export type CommandReturn<C extends CommandName> = QmpCommandMap[C]["return"];
/** An event name this QEMU version's types know. */
export type EventName = keyof QmpEventMap;

/** An event with its typed data, as QEMU sent it, plus its journal sequence number. */
export type TypedEvent<E extends EventName> = {
  [K in E]:
    & Omit<QmpEvent, "event" | "data">
    & { event: K }
    & (QmpEventMap[K] extends undefined ? { data?: undefined } : { data: QmpEventMap[K] });
}[E];

/** Any part of `T`, recursively: what a subset match may name. */
export type Subset<T> = T extends readonly (infer U)[] ? readonly Subset<U>[]
  : T extends object ? { [K in keyof T]?: Subset<T[K]> }
  : T;

/** What `data` of a typed wait must contain: a subset pattern, or a predicate. */
export type TypedMatch<D> = Subset<D> | ((data: D, event: QmpEvent) => boolean);

/** The parameters of `vm.execute(command, …)` after the command: arguments (optional when all are), then options. */
export type ExecuteRest<C extends CommandName> = undefined extends CommandArguments<C>
  ? [args?: CommandArguments<C>, options?: ExecuteOptions]
  : [args: CommandArguments<C>, options?: ExecuteOptions];

/** Options of {@linkcode Vm.connect}. */
export interface VmConnectOptions extends QmpConnectOptions {
  /** The guest agent's socket of an attached VM (`unix:/path`), for `vm.agent`. */
  agent?: string | undefined;
}

/** How a VM is doing, as {@linkcode Vm.prototype.liveness} tells. */
export type Liveness = "healthy" | "wedged" | "dead";

/** Options of {@linkcode Vm.prototype.shutdown}. */
/**
 * How a launched VM's QEMU ended at `shutdown`: the guest powered off
 * within its grace, QEMU quit when asked, or it had to be forced
 * (SIGTERM, SIGKILL); `exited` if it had ended already.
 */
export type StopHow = "powered-off" | "quit" | "terminated" | "killed" | "exited";

/** Options of {@linkcode Vm.prototype.shutdown}. */
export interface ShutdownOptions {
  /**
   * How long the guest may take to power down after the ACPI power button,
   * in ms; 0 skips it. Default 5,000. Then `quit`, SIGTERM and SIGKILL
   * follow, a second apart at most.
   */
  grace?: number;
  /** Ends the grace at once (the VM is stopped all the same). */
  signal?: AbortSignal;
}

/** What a Vm is built from; {@linkcode Vm.connect} and `launch` make it. */
export interface VmParts {
  /** Default command deadline, in ms. Default 30,000. */
  commandTimeout?: number | undefined;
  /** The launched QEMU this Vm owns, if corral launched it. */
  machine?: Machine | undefined;
  /** The guest agent's socket, if the VM has one. */
  agent?: string | undefined;
  /** Its serial console, if it has one. */
  console?: Console | undefined;
}

/** A QEMU version, from the greeting. */
export interface QemuVersion {
  /** e.g. 10 */
  major: number;
  /** e.g. 0 */
  minor: number;
  /** e.g. 2 */
  micro: number;
  /** The distribution's package version, e.g. `Debian 1:10.0.2+ds-2`. */
  package: string;
  /** `major.minor`, as releases are named: `"10.0"`. */
  release: string;
}

/** A launched VM left running by {@linkcode Vm.prototype.detach}. */
export interface DetachedVm {
  /** The VM's name. */
  name: string;
  /** QEMU's pid. */
  pid: number;
  /** Its private directory. */
  dir: string;
  /** The QMP socket: `corral shell` or `Vm.connect("unix:" + qmp)`. */
  qmp: string;
  /** The serial console socket, if it has one. */
  console: string | undefined;
}

/** Options of {@linkcode Vm.prototype.waitFor}. */
export interface WaitForOptions<D = Record<string, unknown>> {
  /** What the event's data must contain: a subset pattern or a predicate. */
  match?: TypedMatch<D>;
  /**
   * Only events after this journal cursor count (see {@linkcode Vm.prototype.mark}).
   * Default: the cursor when the latest command that can change state was
   * sent, so an event caused by that command counts even when it arrived
   * before the command's reply.
   */
  since?: number;
  /** Deadline in milliseconds. Default: the VM's `commandTimeout` (30 s). */
  timeout?: number;
  /** Abandons the wait. */
  signal?: AbortSignal;
}

/** Options of {@linkcode Vm.prototype.events}. */
export interface EventsOptions<D = Record<string, unknown>> {
  /** What the event's data must contain. */
  match?: TypedMatch<D>;
  /** Start after this cursor. Default: as for {@linkcode Vm.prototype.waitFor}. */
  since?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** What a VM announces (`vm.onChange`): it started again in a new process, or moved to another QEMU. */
export type VmChange = "restarted" | "moved";
