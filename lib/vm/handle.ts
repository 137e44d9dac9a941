/**
 * What an operation on a VM (a migration, a job, a snapshot, a backup)
 * needs of it: the `Vm` class offers it, and the operations depend on this
 * and nothing more, so that `Vm` can offer them as methods without the
 * two importing each other.
 *
 * @module
 */

import type { ExecuteOptions, QmpClient } from "../qmp/client.ts";
import type { QueryStatusReturn } from "../qmp/qapi.ts";
import type { VmAgent } from "../agent/vm_agent.ts";
import type { CommandName, CommandReturn, ExecuteRest } from "./vm_types.ts";

/** The result of `query-status`, typed from QEMU's schema. */
export type StatusInfo = QueryStatusReturn;

/** Options of an action that waits for its effect (`pause`, `reset`, …). */
export interface ActionOptions {
  /** Deadline for the whole action in milliseconds. Default: the VM's `commandTimeout` (30 s). */
  timeout?: number;
  /** Abandons the wait (what was sent may still take effect). */
  signal?: AbortSignal;
}

/** A VM as the operations see it (see {@linkcode Vm}, which implements it). */
export interface VmHandle {
  /** Its name. */
  readonly name: string;
  /** The QMP client (its event journal is the VM's). */
  readonly client: QmpClient;
  /** Whether corral launched it (and may stop, restart or move it). */
  readonly launched: boolean;
  /** Whether the QMP connection is open. */
  readonly connected: boolean;
  /** A launched VM's QEMU pid. */
  readonly pid: number | undefined;
  /** A launched VM's QEMU exit status, once it exited. */
  readonly exitStatus: Deno.CommandStatus | undefined;
  /** The last lines its QEMU wrote to standard error. */
  readonly stderr: string[];
  /** A launched VM's private directory. */
  readonly dir: string | undefined;
  /** Whether it has a guest agent channel. */
  readonly hasAgent: boolean;
  /** Its guest agent. */
  readonly agent: VmAgent;
  /** A QMP command, typed from QEMU's schema. */
  execute<C extends CommandName>(command: C, ...rest: ExecuteRest<C>): Promise<CommandReturn<C>>;
  /** Any QMP command (one the typed ones do not know). */
  executeUntyped(
    command: string,
    args?: Record<string, unknown>,
    options?: ExecuteOptions,
  ): Promise<unknown>;
  /** The event journal's cursor now: later waits count events after it. */
  mark(): number;
  /** `query-status`. */
  status(options?: ExecuteOptions): Promise<StatusInfo>;
  /** Let the guest run; resolves once it does. */
  resume(options?: ActionOptions): Promise<void>;
  /** Wait for a launched VM's QEMU to exit. */
  waitExit(options?: ActionOptions): Promise<Deno.CommandStatus>;
  /** Where a migration from `source` reaches this launched VM. */
  incomingUri(source: VmHandle): string;
  /** Stop a launched VM and remove its files; disconnect an attached one. */
  dispose(): Promise<void>;
}
