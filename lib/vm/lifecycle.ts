/**
 * `VmLifecycle`: a VM's QEMU process, console and guest agent — launched
 * or attached, shut down, killed, started again, handed over after a live
 * migration, left running (`--keep`) — on top of its monitor (`VmMonitor`).
 * `Vm` adds the operations.
 *
 * @module
 */

import { ConnectionClosedError, CorralError, TimeoutError } from "../errors.ts";
import { abortable, MAX_TIMER_MS } from "../_async.ts";
import { QmpClient } from "../qmp/client.ts";
import type { Console } from "./console.ts";
import type { Machine } from "./machine.ts";
import { VmAgent } from "../agent/vm_agent.ts";
import { VmMonitor } from "./monitor.ts";
import type { ActionOptions } from "./handle.ts";
import type {
  DetachedVm,
  Liveness,
  ShutdownOptions,
  StopHow,
  VmChange,
  VmParts,
} from "./vm_types.ts";

/** A VM's process, console and agent. See {@linkcode Vm}. */
export class VmLifecycle extends VmMonitor {
  /**
   * The QEMU machine corral launched, or `undefined` when attached.
   *
   * @ignore
   */
  protected machine: Machine | undefined;
  #console: Console | undefined;
  #agent: VmAgent | undefined;
  #stopped: StopHow | undefined;
  #listeners = new Set<(change: VmChange) => void>();

  /** Wrap a connected client. Most users call {@linkcode Vm.connect} or `launch`. */
  constructor(client: QmpClient, parts: VmParts = {}) {
    super(client, parts.commandTimeout);
    this.machine = parts.machine;
    const agent = parts.agent ??
      (parts.machine?.agentSocket && `unix:${parts.machine.agentSocket}`);
    if (agent) this.#agent = this.#newAgent(agent);
    this.#useConsole(parts.console);
  }
  /** Whether corral launched this VM (and so owns its QEMU process). */
  get launched(): boolean {
    return this.machine !== undefined;
  }

  /** The QEMU process id of a launched VM. */
  get pid(): number | undefined {
    return this.machine?.process?.pid;
  }

  /** The exit status of a launched VM's QEMU once it has exited. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.machine?.process?.exit;
  }

  /** The last lines a launched VM's QEMU wrote to standard error. */
  get stderr(): string[] {
    return this.machine?.process?.stderr ?? [];
  }

  /** The directory that holds a launched VM's sockets and `console.log`. */
  get dir(): string | undefined {
    return this.machine?.dir;
  }

  /**
   * The name of the QEMU instance this VM runs in: its name, or after
   * {@linkcode Vm.prototype.migrate} the destination's (`NAME-m1`, …).
   */
  get instance(): string {
    return this.machine?.instance ?? this.name;
  }

  /** The SSH host a launched VM runs on, by name; `undefined` here or attached. */
  get host(): string | undefined {
    return this.machine?.host?.name;
  }

  /** Bring a VM's console log from its SSH host, so that `consoleLogs` names a local copy. */
  async collectLogs(): Promise<void> {
    await this.machine?.collectLogs();
  }

  /**
   * A launched VM's console logs, oldest first: those of the QEMUs it ran
   * in before live migrations, then the current one's. Empty when attached.
   */
  get consoleLogs(): string[] {
    return this.machine && this.#console ? this.machine.consoleLogs : [];
  }

  /** Whether the VM has a guest agent channel (launched with one, or attached with `agent`). */
  get hasAgent(): boolean {
    return this.#agent !== undefined;
  }

  /**
   * The guest agent: `ping`, `exec`, files, freeze and thaw, `shutdown`,
   * `interfaces` (see {@linkcode VmAgent}).
   *
   * @throws {CorralError} The VM has no agent channel: launch it with
   *   `agent: true` (on by default for `builtin:linux`), or attach with `agent`.
   */
  get agent(): VmAgent {
    if (!this.#agent) {
      throw new CorralError(
        "has no guest agent channel: launch it with agent: true (builtin:linux has one), " +
          "or attach with the agent option naming its socket",
        { vm: this.name },
      );
    }
    return this.#agent;
  }

  /**
   * The serial console.
   *
   * @throws {CorralError} The VM has none (attached, or launched with guest `none`).
   */
  get console(): Console {
    if (!this.#console) {
      throw new CorralError(
        `has no serial console: ` +
          (this.machine ? "it was launched with guest 'none'" : "corral did not launch it"),
        { vm: this.name },
      );
    }
    return this.#console;
  }

  /**
   * Make QEMU exit (`quit`); resolves once the connection has closed and,
   * for a launched VM, the process has exited.
   */
  async quit(options: ActionOptions = {}): Promise<void> {
    const deadline = this.deadline(options);
    await this.execute("quit", undefined, deadline.next());
    await deadline.race(this.qmp.done, "the connection to close after quit");
    const process = this.machine?.process;
    if (process) await deadline.race(process.status, "QEMU to exit after quit");
  }

  /**
   * Tell whether the VM is `dead` (its process exited, or its connection
   * closed), `wedged` (connected but not answering: an out-of-band
   * `query-yank`, which does not queue behind other commands, got no reply
   * in time) or `healthy`.
   */
  async liveness(options: ActionOptions = {}): Promise<Liveness> {
    if (!this.connected || this.exitStatus !== undefined) return "dead";
    const ask = { timeout: options.timeout ?? 1000, signal: options.signal };
    try {
      if (this.qmp.oob) {
        await this.qmp.execute("query-yank", undefined, { oob: true, ...ask });
      } else await this.qmp.execute("query-status", undefined, ask);
      return "healthy";
    } catch (error) {
      if (error instanceof TimeoutError) return "wedged";
      if (error instanceof ConnectionClosedError) return "dead";
      throw error;
    }
  }

  /**
   * Stop a launched VM for good, politely first: the ACPI power button and
   * `grace` ms for the guest to power off, then `quit`, then SIGTERM, then
   * SIGKILL. Resolves once QEMU has exited; the VM can be relaunched.
   * For an attached VM it only closes the connection.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<Deno.CommandStatus | undefined> {
    const process = this.machine?.process;
    if (!process) {
      await this.close();
      return undefined;
    }
    const grace = options.grace ?? 5000;
    this.#stopped = process.exit ? "exited" : undefined;
    if (!process.exit && this.connected && grace > 0) {
      await this.qmp.execute("system_powerdown", undefined, { timeout: 1000 }).catch(() => {});
      // Interrupted, the grace ends at once: the VM is still stopped, only sooner.
      const graceEnded = abortable(process.exited(grace), options.signal).catch(() => false);
      if (await graceEnded) this.#stopped = "powered-off";
    }
    if (!process.exit && this.connected) {
      await this.qmp.execute("quit", undefined, { timeout: 1000 }).catch(() => {});
      if (await process.exited(1000)) this.#stopped ??= "quit";
    }
    const status = await process.terminate(1000);
    this.#stopped ??= status.signal === "SIGKILL" ? "killed" : "terminated";
    await this.#closeConnections();
    return status;
  }

  /** How the last `shutdown` ended QEMU (see {@linkcode StopHow}), once it ran. */
  get stoppedHow(): StopHow | undefined {
    return this.#stopped;
  }

  /**
   * Wait for a launched VM's QEMU to exit on its own (after a guest
   * poweroff, or a panic with policy `shutdown`) and resolve to its status.
   *
   * @throws {TimeoutError} It did not exit in time; it keeps running.
   */
  async waitExit(options: ActionOptions = {}): Promise<Deno.CommandStatus> {
    const process = this.requireMachine("wait for the exit of").process!;
    await this.deadline(options).race(process.status, "QEMU exiting");
    return await process.status;
  }

  /**
   * Kill a launched VM's QEMU with SIGKILL, like pulling the power cord;
   * resolves once it is gone and its connection closed.
   *
   * @throws {TimeoutError} It was not gone in time (a process stuck in the
   *   kernel, a host that stopped answering).
   */
  async kill(options: ActionOptions = {}): Promise<Deno.CommandStatus> {
    const process = this.requireMachine("kill").process!;
    process.signal("SIGKILL");
    const deadline = this.deadline(options);
    await deadline.race(Promise.all([process.status, this.qmp.done]), "QEMU gone after SIGKILL");
    return await process.status;
  }

  /**
   * Send a signal to a launched VM's QEMU process: `SIGSTOP` stalls it as a
   * hung host would (the guest freezes, QMP goes silent: `liveness` says
   * `wedged`), `SIGCONT` lets it go on.
   *
   * @throws {CorralError} corral did not launch it, or it has exited.
   */
  signalProcess(signal: Deno.Signal): void {
    const process = this.requireMachine(`send ${signal} to`).process;
    if (!process || process.exit) {
      throw new CorralError(`cannot send ${signal}: its QEMU is not running`, { vm: this.name });
    }
    process.signal(signal);
  }

  /**
   * Start a launched VM's QEMU again from the same spec, after it exited
   * (killed, shut down, or powered off). The event journal and its cursors
   * carry over; a new console connection replaces the old one.
   */
  async relaunch(options: ActionOptions = {}): Promise<void> {
    const machine = this.requireMachine("relaunch");
    if (machine.process && !machine.process.exit) {
      throw new CorralError(
        `cannot relaunch: QEMU (pid ${machine.process.pid}) is still running; ` +
          `shutdown() or kill() it first`,
        { vm: this.name },
      );
    }
    await this.#closeConnections();
    this.markAction();
    const { client, console } = await machine.start(
      this.qmp.journal,
      this.trace,
      1,
      options.signal,
      options.timeout,
    );
    this.qmp = client;
    this.#useConsole(console);
    this.#announce("restarted");
  }

  /**
   * Hear when this VM starts again in a new QEMU process (`relaunch`) or
   * moves to another QEMU (a live migration): its console is then a new
   * one. Returns a function that stops listening.
   */
  onChange(listener: (change: VmChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #announce(change: VmChange): void {
    for (const listener of [...this.#listeners]) listener(change);
  }

  /** Close the QMP connection (and console); QEMU keeps running. */
  async close(): Promise<void> {
    await this.#closeConnections();
  }

  /**
   * Done with the VM: a launched one is shut down (see
   * {@linkcode Vm.prototype.shutdown}; `grace` default 0 here) and its
   * files removed; an attached one is only disconnected.
   */
  async dispose(options: ShutdownOptions = {}): Promise<void> {
    if (!this.machine) return await this.close();
    await this.shutdown({ grace: options.grace ?? 0 });
    await this.machine.removeDir();
  }

  /**
   * Leave a launched VM running after this program ends (`--keep`): close
   * the connections, stop watching the process, and tell where to find it
   * again. Returns `undefined` for an attached VM, or for one whose QEMU
   * exited (its files are removed).
   * It dies with this program anyway unless it was launched with `keep`.
   */
  async detach(): Promise<DetachedVm | undefined> {
    await this.close();
    const machine = this.machine;
    const process = machine?.process;
    if (!machine) return undefined;
    if (!process || process.exit) {
      await machine.removeDir(); // nothing runs there any more
      return undefined;
    }
    process.detach();
    return {
      name: this.name,
      pid: process.pid,
      dir: machine.dir,
      qmp: machine.qmpSocket,
      console: machine.consoleSocket,
    };
  }

  /** Same as {@linkcode Vm.prototype.dispose} with no grace, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /**
   * Drive `target`'s QEMU from now on and stop this VM's old one (left to
   * `target`). The VM keeps one journal: the new QEMU's events so far join
   * it and it records there next, synchronously, so no event falls in
   * between.
   */
  protected async takeOver(target: VmLifecycle): Promise<void> {
    const journal = this.qmp.journal;
    journal.absorb(target.qmp.journal);
    this.qmp.useJournal(target.qmp.useJournal(journal));
    [this.qmp, target.qmp] = [target.qmp, this.qmp];
    [this.machine, target.machine] = [target.machine, this.machine];
    // The new QEMU's agent channel, watched for halts through this VM (and its journal).
    const agent = target.#agent;
    target.#agent = this.#agent;
    this.#agent = agent && this.#newAgent(agent.address);
    agent?.close();
    const console = this.#console;
    this.#useConsole(target.#console);
    target.#useConsole(console);
    this.qmp.trace = this.trace; // the new client traces too
    this.forgetSchema();
    target.forgetSchema();
    this.#announce("moved");
    await this.machine!.inheritLogs(target.machine!);
    await target.dispose();
  }

  #newAgent(address: string): VmAgent {
    return new VmAgent(address, this.name, (signal) => this.#halted(signal));
  }

  /** Resolves when the VM stops running from now on: a panic, a shutdown, or QEMU gone. */
  async #halted(signal: AbortSignal): Promise<string> {
    try {
      const event = await this.qmp.journal.waitFor(
        { names: ["GUEST_PANICKED", "SHUTDOWN"] },
        { since: this.mark(), signal, timeout: MAX_TIMER_MS },
      );
      return event.event === "GUEST_PANICKED" ? "panicked" : "shut down";
    } catch (error) {
      if (error instanceof ConnectionClosedError) return "is gone (its QEMU connection closed)";
      return await new Promise<never>(() => {}); // the watch was dropped
    }
  }

  #useConsole(console: Console | undefined): void {
    this.#console = console;
    if (console) console.onSend = () => this.markAction();
  }

  async #closeConnections(): Promise<void> {
    this.#agent?.close();
    await this.qmp.close();
    await this.#console?.close();
  }

  /** @ignore */
  protected requireMachine(what: string): Machine {
    if (!this.machine) {
      throw new CorralError(`cannot ${what}: corral did not launch this VM`, {
        vm: this.name,
      });
    }
    return this.machine;
  }

  /** @ignore */
  protected override actionMarked(): void {
    this.#console?.markAction();
  }
}
