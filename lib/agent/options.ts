/**
 * What the guest agent's calls take and give back (see `VmAgent`).
 *
 * @module
 */

/** Options of `VmAgent.exec`. */
export interface AgentExecOptions {
  /** Text given to the command's standard input. */
  input?: string;
  /** Environment variables, `{ NAME: value }`. */
  env?: Record<string, string>;
  /** Deadline for the command to exit, in ms. Default 30,000. */
  timeout?: number;
  /** Abandons the wait (the command keeps running in the guest, unless `killOnTimeout`). */
  signal?: AbortSignal;
  /** Kill the command (SIGKILL in the guest) when it passes its deadline or is abandoned. */
  killOnTimeout?: boolean;
}

/** Options of the file transfers. */
export interface AgentFileOptions {
  /** Deadline for the whole transfer, in ms. Default 60,000. */
  timeout?: number;
  /** Abandons the transfer (the file is closed). */
  signal?: AbortSignal;
}

/**
 * Resolves with what happened when the VM stops running (a panic, a
 * shutdown, QEMU gone) from the moment it is called; `signal` drops the
 * watch. Given by the `Vm` so that a guest command fails at once then.
 */
export type HaltWatch = (signal: AbortSignal) => Promise<string>;

/** What a command run through the agent did. */
export interface AgentExecResult {
  /** Its exit code (or 128 + signal when a signal ended it). */
  exitCode: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** Options of `VmAgent.thawSurely`. */
export interface ThawOptions {
  /** How long to keep trying, in ms. Default 100,000. */
  timeout?: number;
  /** Whether the VM is gone (nothing left to thaw): stops the retries. */
  gone?: () => boolean;
}

/** Options of `VmAgent.withFrozen`. */
export interface FrozenOptions extends ThawOptions {
  /** Abandons the freeze or what runs frozen; the thaw follows all the same. */
  signal?: AbortSignal;
}

/** A network interface as the guest sees it. */
export interface AgentInterface {
  /** e.g. `eth0`. */
  name: string;
  /** The MAC address. */
  hardwareAddress?: string;
  /** Its addresses, as `10.0.0.2/24`. */
  addresses: string[];
}
