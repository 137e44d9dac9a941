/**
 * The errors corral throws. Every one is a {@linkcode CorralError}, so a
 * single `instanceof` check catches them all; the subclasses carry the
 * context a user needs to act (VM name, command, QMP error class, recipe
 * position). A message starts with `vm 'NAME': ` when a VM is named: the
 * error composes it from its `vm` field.
 *
 * ```text
 * CorralError
 * ├── QmpError              QEMU refused a command (qmpClass, command, arguments)
 * ├── ArgumentsError        arguments that cannot be sent: not JSON, or not parseable by QEMU
 * ├── ProtocolError         the peer broke QMP
 * │   └── MonitorBusyError  connected, but no greeting: another client holds the monitor
 * ├── ConnectError          nothing to connect to (address)
 * ├── ConnectionClosedError the connection ended; every pending call fails with it
 * ├── ReplayError           (qmp/replay.ts) a qmp.log cannot be replayed
 * ├── TimeoutError          a deadline passed (timeout, command)
 * │   └── DeadlineError     a caller's overall deadline for one VM (fleet call, recipe step)
 * ├── AbortedError          a fleet call's signal aborted before this VM finished
 * ├── EventsLostError       a reader fell behind the bounded journal
 * ├── LaunchError           QEMU could not be launched (exitCode, stderr)
 * ├── ConsoleError          the console printed a failOn line (line)
 * ├── AgentError            the guest agent does not answer, or went away
 * ├── JobError              a QEMU job concluded with an error (job id, command)
 * ├── MigrationError        a live migration failed or timed out; the source was left running
 * ├── HostError             an SSH host could not be reached, refused a command, or dropped (host)
 * ├── StepFailure           a recipe check did not hold, or `fail:` on purpose
 * ├── SchemaError           (qmp/schema.ts) a command does not fit this QEMU's schema
 * ├── SelectorError         (vm/select.ts) a selector names nothing
 * ├── FleetError            (vm/fleet.ts) some VMs of a fleet call failed (results)
 * │   └── LabLaunchError    (vm/lab.ts) some VMs of a lab could not be launched
 * └── RecipeError           (recipe/parse.ts) a recipe is invalid (issues, each file:line:col)
 * ```
 *
 * @module
 */

import { prefix } from "./_text.ts";

/** Options shared by every corral error. */
export interface CorralErrorOptions {
  /** The lower-level error that caused this one. */
  cause?: unknown;
  /** The VM the error concerns, when there is one. */
  vm?: string;
}

/**
 * The root of every error corral throws.
 *
 * @example Catch anything corral throws
 * ```ts
 * import { CorralError, TimeoutError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new TimeoutError("no reply", { vm: "web1", timeout: 5 });
 * assert.ok(error instanceof CorralError);
 * assert.equal(error.vm, "web1");
 * ```
 */
export class CorralError extends Error {
  /** The VM the error concerns, or `undefined`. */
  readonly vm: string | undefined;

  /** What happened, without the `vm 'NAME': ` prefix. */
  readonly detail: string;

  /**
   * Make an error; the message gets a `vm 'NAME': ` prefix when
   * `options.vm` is given; `options.cause` is kept as the standard `cause`.
   */
  constructor(message: string, options: CorralErrorOptions = {}) {
    super(
      prefix(options.vm) + message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.vm = options.vm;
    this.detail = message;
  }
}

/** Options of {@linkcode QmpError}. */
export interface QmpErrorOptions extends CorralErrorOptions {
  /** The command QEMU refused. */
  command: string;
  /** The arguments the command was sent with. */
  arguments?: Record<string, unknown> | undefined;
}

/**
 * QEMU answered a command with an error. Keeps QEMU's error class (for
 * example `CommandNotFound`, `GenericError`, `DeviceNotFound`) and its text.
 *
 * @example
 * ```ts
 * import { QmpError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new QmpError("CommandNotFound", "The command x has not been found", {
 *   vm: "a",
 *   command: "x",
 * });
 * assert.equal(error.qmpClass, "CommandNotFound");
 * assert.match(error.message, /vm 'a': x failed: CommandNotFound: The command x/);
 * ```
 */
export class QmpError extends CorralError {
  /** QEMU's error class, e.g. `GenericError`. */
  readonly qmpClass: string;
  /** QEMU's human-readable description. */
  readonly desc: string;
  /** The command QEMU refused. */
  readonly command: string;
  /** The arguments the command was sent with. */
  readonly arguments: Record<string, unknown> | undefined;

  /** Make an error from QEMU's `class` and `desc`. */
  constructor(qmpClass: string, desc: string, options: QmpErrorOptions) {
    super(`${options.command} failed: ${qmpClass}: ${desc}`, options);
    this.qmpClass = qmpClass;
    this.desc = desc;
    this.command = options.command;
    this.arguments = options.arguments;
  }
}

/**
 * A command's arguments cannot be sent: JSON cannot encode them (a BigInt,
 * a cycle), or QEMU could not parse them (a lone UTF-16 surrogate, nesting
 * deeper than 1,024 levels). Nothing was sent.
 */
export class ArgumentsError extends CorralError {
  /** The command that was not sent. */
  readonly command: string;

  /** Make an error for `options.command`. */
  constructor(message: string, options: CorralErrorOptions & { command: string }) {
    super(message, options);
    this.command = options.command;
  }
}

/**
 * The peer broke the QMP protocol: bytes that are not JSON, a message over
 * the size limit, a missing or malformed greeting, a reply nobody asked for.
 * The connection is closed when this happens.
 */
export class ProtocolError extends CorralError {}

/**
 * QEMU accepted the connection but never sent its greeting. QEMU serves one
 * client per monitor and leaves a second one waiting silently, so the
 * likely cause is another client attached to the same monitor.
 */
export class MonitorBusyError extends ProtocolError {}

/**
 * The connection could not be made: no socket file, a socket file left by a
 * QEMU that has exited, a refused TCP port, a bad address.
 */
export class ConnectError extends CorralError {
  /** The address that was dialled, e.g. `unix:/run/a.qmp`. */
  readonly address: string;

  /** Make an error for `address`. */
  constructor(message: string, options: CorralErrorOptions & { address: string }) {
    super(message, options);
    this.address = options.address;
  }
}

/**
 * The connection to QEMU is closed, or closed while the call was waiting:
 * QEMU exited or was killed, the socket was cut, or the client closed it.
 * Every pending command and waiter of that VM rejects with this at once.
 */
export class ConnectionClosedError extends CorralError {}

/** Options of {@linkcode TimeoutError}. */
export interface TimeoutErrorOptions extends CorralErrorOptions {
  /** The deadline that passed, in milliseconds. */
  timeout: number;
  /** The command that was waited for, when the wait was for a reply. */
  command?: string;
}

/**
 * A deadline passed. When the wait was for a command's reply, the command
 * was already sent and may still be running in QEMU: a timeout does not
 * cancel it.
 */
export class TimeoutError extends CorralError {
  /** The deadline that passed, in milliseconds. */
  readonly timeout: number;
  /** The command whose reply did not come in time, if any. */
  readonly command: string | undefined;

  /** Make an error for a deadline of `options.timeout` ms. */
  constructor(message: string, options: TimeoutErrorOptions) {
    super(message, options);
    this.timeout = options.timeout;
    this.command = options.command;
  }
}

/**
 * A caller's overall deadline for one VM passed: a fleet call's `timeout`,
 * or a recipe step's. The action was abandoned (it did not heed its own
 * deadline in time).
 */
export class DeadlineError extends TimeoutError {}

/** A fleet call's signal aborted before this VM's action finished; the action was abandoned. */
export class AbortedError extends CorralError {}

/** A recipe step failed on purpose (`fail:`), or a check it makes did not hold. */
export class StepFailure extends CorralError {}

/**
 * Events a wait or an iterator needed were dropped from the bounded event
 * journal before they could be read. Raise `journalSize`, or read faster.
 */
export class EventsLostError extends CorralError {}

/** Options of {@linkcode LaunchError}. */
export interface LaunchErrorOptions extends CorralErrorOptions {
  /** QEMU's exit code, when it exited while starting. */
  exitCode?: number | undefined;
  /** The last lines QEMU wrote to stderr. */
  stderr?: string[] | undefined;
}

/**
 * A VM could not be launched: QEMU is missing, exited while starting (the
 * message ends with the last lines of its stderr), or the spec is invalid.
 */
export class LaunchError extends CorralError {
  /** QEMU's exit code, when it exited while starting. */
  readonly exitCode: number | undefined;
  /** The last lines QEMU wrote to stderr. */
  readonly stderr: string[];

  /** Make an error; the stderr lines are appended to the message. */
  constructor(message: string, options: LaunchErrorOptions) {
    const tail = options.stderr?.length ? `\nQEMU said:\n  ${options.stderr.join("\n  ")}` : "";
    super(message + tail, options);
    this.exitCode = options.exitCode;
    this.stderr = options.stderr ?? [];
  }
}

/**
 * The guest agent of a VM does not answer at its socket, or went away in
 * the middle of a command (the guest rebooted, the agent exited).
 */
export class AgentError extends CorralError {}

/**
 * An SSH host could not be reached (unknown or changed host key, refused
 * login, no route), a command on it failed or passed its deadline, or its
 * connection dropped. Keeps the host's name; the message says what to check.
 */
export class HostError extends CorralError {
  /** The host's name in the inventory. */
  readonly host: string;

  /** Make an error for `options.host`. */
  constructor(message: string, options: CorralErrorOptions & { host: string }) {
    super(`host '${options.host}': ${message}`, options);
    this.host = options.host;
  }
}

/** A QEMU job (snapshot, backup, blockdev-create …) concluded with an error. */
export class JobError extends CorralError {
  /** The job's id. */
  readonly job: string;

  /** Make an error for `options.job`. */
  constructor(message: string, options: CorralErrorOptions & { job: string }) {
    super(message, options);
    this.job = options.job;
  }
}

/** A live migration failed, was cancelled, or passed its deadline; the source was left running. */
export class MigrationError extends CorralError {}

/** Options of {@linkcode CheckpointError}. */
export interface CheckpointErrorOptions extends CorralErrorOptions {
  /** The checkpoint's folder. */
  checkpoint: string;
}

/**
 * A checkpoint could not be saved, or cannot be resumed from: it is
 * missing, or the recipe, a VM's spec, the QEMU build or a disk's base is
 * not what it was when it was saved. Nothing was started.
 */
export class CheckpointError extends CorralError {
  /** The checkpoint's folder. */
  readonly checkpoint: string;

  /** Make an error about the checkpoint in `options.checkpoint`. */
  constructor(message: string, options: CheckpointErrorOptions) {
    super(message, options);
    this.checkpoint = options.checkpoint;
  }
}

/** The serial console printed a line that a wait's `failOn` names. */
export class ConsoleError extends CorralError {
  /** The console line that matched `failOn`. */
  readonly line: string;

  /** Make an error for the offending `line`. */
  constructor(message: string, options: CorralErrorOptions & { line: string }) {
    super(message, options);
    this.line = options.line;
  }
}

/**
 * `corral fuzz`, `diff` or `rehearse` cannot start on this recipe: nothing
 * would judge a run, no VM can take the faults asked for, a build or a VM
 * to clone cannot be used. Nothing was started.
 */
export class ExplorationError extends CorralError {}
