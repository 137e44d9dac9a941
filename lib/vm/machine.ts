/**
 * One launched QEMU machine: a spec becomes a command line, a private
 * runtime directory with its disks, and a process that never outlives its
 * parent, connected over QMP with its serial console. `launch()` wraps it
 * in a `Vm`.
 *
 * @module
 */

import { LaunchError, TimeoutError } from "../errors.ts";
import { QmpClient, type QmpTrace } from "../qmp/client.ts";
import type { EventJournal } from "../qmp/journal.ts";
import { Console } from "./console.ts";
import { TINY_IMAGE } from "./guest/_tiny_image.ts";
import { makeVmDir } from "../_runtime_dir.ts";
import type { QemuChild } from "../_process.ts";
import type { Host, ToolResult } from "../host/host.ts";
import { LOCAL } from "../host/local.ts";
import { writeRecord } from "./registry.ts";
import { makeDisks } from "./_disks.ts";
import { writeSeed } from "./guest/cloud_init.ts";
import { diskFile, qemuArgs } from "./_qemu_args.ts";
import { Hotplugged } from "./_hotplugged.ts";
import { refuseCopy, refuseMove } from "./_move_checks.ts";
import {
  diskIds,
  type DiskSpec,
  guestOf,
  hasAgentChannel,
  imageGuest,
  isVmName,
  type LaunchSpec,
  validateSpec,
} from "./spec.ts";

export * from "./spec.ts";
export { qemuArgs } from "./_qemu_args.ts";
export type { LaunchOptions } from "./launch_options.ts";
import type { LaunchOptions } from "./launch_options.ts";
import {
  exitedWhileStarting,
  placeGuest,
  restoreState,
  untilListening,
  withBuiltinGuest,
} from "./_start.ts";

/** How long the first QEMU of a start may take to negotiate before it is started again. */
const FIRST_NEGOTIATION_MS = 12_000;

/** One launched QEMU: its spec, its directory, its current process. */
export class Machine {
  /** What was launched (and where its disks are now: see `diskMoved`). */
  spec: LaunchSpec;
  /** The VM's private directory: sockets, console.log. */
  readonly dir: string;
  /** The spec as given, before the built-in guest's parts were filled in. */
  #given: LaunchSpec;
  #earlierLogs: string[] = [];
  /** What was hot-plugged into this QEMU: a destination or a start again gets it too. */
  hotplugged: Hotplugged = new Hotplugged();
  #options: LaunchOptions;
  #process: QemuChild | undefined;
  #place: Host;
  /** What abandons the start under way: the launch's signal, or a relaunch's. */
  #signal: AbortSignal | undefined;
  /** How often a QEMU that greeted and never negotiated was started again (usually 0). */
  restarts = 0;
  /** The directory QEMU's files are in, where it runs: `dir` here, a directory on an SSH host. */
  readonly qemuDir: string;

  private constructor(
    spec: LaunchSpec,
    given: LaunchSpec,
    dirs: { dir: string; qemuDir: string },
    place: Host,
    options: LaunchOptions,
  ) {
    this.spec = spec;
    this.#given = given;
    this.dir = dirs.dir;
    this.qemuDir = dirs.qemuDir;
    this.#place = place;
    this.#options = options;
  }

  /** The host QEMU runs on, or `undefined` here. */
  get host(): Host | undefined {
    return this.#place === LOCAL ? undefined : this.#place;
  }

  /**
   * Where a migration from `from` reaches this machine's QEMU: a unix
   * socket in its directory on the same host, else TCP to the address its
   * host gave (`address` in the host's spec) on a free-looking port.
   *
   * @throws {LaunchError} The two are on different hosts and this one has no address.
   */
  incomingUri(from: Machine): string {
    if (from.host === this.host) return `unix:${this.qemuDir}/migrate.sock`;
    const address = this.host?.address;
    if (!address) {
      throw new LaunchError(
        `a migration from ${from.host ? `host '${from.host.name}'` : "this machine"} to ` +
          `${this.host ? `host '${this.host.name}'` : "this machine"} needs an address the ` +
          `source can reach: give the destination's host an address`,
        { vm: this.spec.name },
      );
    }
    return `tcp:${address}:${49152 + Math.floor(Math.random() * 16000)}`;
  }

  /** This QEMU instance's name: the VM's, unless launched with `instance`. */
  get instance(): string {
    return this.#options.instance ?? this.spec.name;
  }

  /** Run a program where this QEMU runs (another QEMU's `--version`, say). */
  tool(program: string, args: string[]): Promise<ToolResult> {
    return this.#place.tool(program, args);
  }

  /** The launch options a caller may have set for the VM's life. */
  get commandTimeout(): number | undefined {
    return this.#options.commandTimeout;
  }

  /**
   * A machine for the destination of a live migration: the same spec (with
   * `changes`) and launch options, waiting with `-incoming defer`; its
   * disks this machine's, or with `copyDisks` new ones the migration fills.
   */
  async twin(
    instance: string,
    changes: Partial<LaunchSpec> = {},
    signal?: AbortSignal,
    copyDisks = false,
  ): Promise<Machine> {
    const spec = { ...this.#given, ...changes, name: this.spec.name };
    if (copyDisks) refuseCopy(this.spec);
    else refuseMove(this.spec, spec);
    const twin = await Machine.create(spec, {
      ...this.#options,
      incoming: true,
      paused: false,
      instance,
      signal: signal ?? this.#options.signal,
    }, copyDisks ? undefined : this);
    twin.hotplugged = this.hotplugged.copy();
    return twin;
  }

  /** The files of the spec's disks where QEMU runs, in order. */
  get diskFiles(): string[] {
    return (this.spec.disks ?? []).map((_, i) => diskFile(this.spec, this.qemuDir, i));
  }

  /**
   * Give this (destination) machine the disks of `from`: the same files,
   * linked into its directory, so that what the guest wrote and its
   * snapshots go along, and removing `from`'s directory keeps them.
   * QEMU's image locks hand them over at the switch.
   */
  async #adoptDisks(from: Machine): Promise<void> {
    const ours = this.diskFiles;
    for (const [i, file] of from.diskFiles.entries()) {
      if (ours[i] === file) continue; // a file of its own (moved by a storage job): the same path
      const output = await this.#place.tool("ln", [file, ours[i]!]);
      if (!output.success) {
        throw new LaunchError(`disk ${i}: could not take over ${file}: ${output.stderr.trim()}`, {
          vm: this.spec.name,
        });
      }
    }
  }

  /** Note the CD drive's medium now (`undefined`: empty): a destination or restart gets it too. */
  mediumChanged(image: string | undefined): void {
    this.spec = { ...this.spec, cdrom: image ?? true };
    this.#given = { ...this.#given, cdrom: image ?? true };
  }

  /**
   * Note that disk `id` is now the image `file` (a storage job moved it or
   * put an overlay on it): a restart or a migration's destination opens
   * that file, as it is, in its place.
   */
  diskMoved(id: string, file: string): void {
    const ids = diskIds(this.spec); // the spec as launched: a built-in guest's root among them
    const index = ids.indexOf(id);
    if (index < 0) return;
    const named = (disks: readonly DiskSpec[]) =>
      disks.map((disk, i) => i === index ? { name: id, file } : { ...disk, name: ids[i] });
    this.spec = { ...this.spec, disks: named(this.spec.disks ?? []) };
    this.#given = { ...this.#given, disks: named(this.spec.disks!) };
  }

  /**
   * Validate `spec` and make the VM's private directory, with its disks:
   * new ones, or `diskSource`'s (a migration's destination).
   */
  static async create(
    spec: LaunchSpec,
    options: LaunchOptions,
    diskSource?: Machine,
  ): Promise<Machine> {
    const problems = validateSpec(spec);
    if (options.instance !== undefined && !isVmName(options.instance)) {
      problems.push(`instance ${JSON.stringify(options.instance)} is not a valid name`);
    }
    if (problems.length > 0) {
      throw new LaunchError(
        `invalid launch spec for ${JSON.stringify(spec.name)}: ${problems.join("; ")}`,
        {
          vm: typeof spec.name === "string" ? spec.name : undefined,
        },
      );
    }
    const given = spec;
    const host = spec.host === undefined ? undefined : options.hosts?.get(spec.host);
    if (spec.host !== undefined && !host) {
      throw new LaunchError(
        `no host ${JSON.stringify(spec.host)}: the hosts are ${
          [...(options.hosts?.keys() ?? [])].join(", ") || "none"
        }`,
        { vm: spec.name },
      );
    }
    const place = host ?? LOCAL;
    if (!place.can.networks && spec.nics?.length) {
      throw new LaunchError(`lab networks on host '${place.name}' are not supported yet`, {
        vm: spec.name,
      });
    }
    spec = await withBuiltinGuest(spec, host !== undefined);
    const instance = options.instance ?? spec.name;
    const dir = await makeVmDir(instance);
    let qemuDir = dir;
    try {
      qemuDir = await place.makeDir(instance, dir);
      spec = await placeGuest(spec, given, { place, dir, qemuDir });
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
    // A record from the start, so that `corral gc` can tell whose directory this is.
    const machine = new Machine(spec, given, { dir, qemuDir }, place, options);
    try {
      await machine.#record(undefined);
      const image = imageGuest(spec);
      if (image !== undefined && !await place.readable(image)) {
        throw new LaunchError(`cannot read the guest image ${image}`, { vm: spec.name });
      }
      if (diskSource) await machine.#adoptDisks(diskSource);
      else await makeDisks(spec, qemuDir, place);
      if (guestOf(spec) === "builtin:tiny") {
        await place.writeFile(`${qemuDir}/tiny.img`, TINY_IMAGE);
      }
      if (spec.cloudInit) await writeSeed(spec.name, spec.cloudInit, qemuDir, place);
    } catch (error) {
      await machine.removeDir();
      throw error;
    }
    return machine;
  }

  /**
   * The console logs of the VM's earlier QEMUs (before live migrations),
   * oldest first, then this one's.
   */
  get consoleLogs(): string[] {
    return [...this.#earlierLogs, `${this.dir}/console.log`];
  }

  /** Move `from`'s console logs into this machine's directory, before `from`'s goes. */
  async inheritLogs(from: Machine): Promise<void> {
    for (const log of from.consoleLogs) {
      const to = `${this.dir}/console.${this.#earlierLogs.length}.log`;
      await Deno.rename(log, to).then(() => this.#earlierLogs.push(to), () => {});
    }
  }

  /** The guest agent's socket, for a VM launched with one. */
  get agentSocket(): string | undefined {
    return hasAgentChannel(this.spec) ? `${this.dir}/qga.sock` : undefined;
  }

  /** Whether the VM has a serial console (every guest but `none`). */
  get hasConsole(): boolean {
    return this.spec.guest !== "none";
  }

  /** The QMP socket's path. */
  get qmpSocket(): string {
    return `${this.dir}/qmp.sock`;
  }

  /** The serial console socket's path, for a VM that has one. */
  get consoleSocket(): string | undefined {
    return this.hasConsole ? `${this.dir}/serial.sock` : undefined;
  }

  /** The current QEMU process. */
  get process(): QemuChild | undefined {
    return this.#process;
  }

  /**
   * Start QEMU (again), connect QMP into `journal` and the console, and let
   * the guest run unless launched paused.
   */
  async start(
    journal: EventJournal | undefined,
    trace: QmpTrace | undefined = this.#options.trace,
    attempt = 1,
    signal: AbortSignal | undefined = this.#options.signal,
    timeout: number = this.#options.timeout ?? 30_000,
  ): Promise<{ client: QmpClient; console: Console | undefined }> {
    this.#signal = signal;
    const name = this.spec.name;
    const binary = this.spec.qemu ?? this.#place.qemu ?? "qemu-system-x86_64";
    await this.#removeSockets();
    const args = [
      ...qemuArgs(this.spec, this.qemuDir, true, this.instance),
      ...this.hotplugged.args(),
      ...(this.#options.incoming || this.#options.restore ? ["-incoming", "defer"] : []),
    ];
    const process = this.#process = await this.#place.spawnQemu(binary, args, name, {
      onKill: () => this.#removeDirNow(),
      outliveParent: this.#options.keep,
      netns: this.spec.nics?.[0]?.netns,
    });
    await this.#record(process.pid);
    const deadline = performance.now() + timeout;
    let client: QmpClient | undefined;
    let console: Console | undefined;
    try {
      const wait = { process, deadline, timeout, vm: name };
      if (!await this.#place.expose(this.#sockets(), wait)) {
        throw exitedWhileStarting(name, process);
      }
      client = await this.#untilListening(
        process,
        deadline,
        timeout,
        (left) =>
          QmpClient.connect(`unix:${this.qmpSocket}`, {
            name,
            timeout: left,
            // The first QEMU gets a part of the deadline to negotiate (see the catch below).
            negotiationTimeout: attempt === 1
              ? this.#options.negotiationTimeout ?? FIRST_NEGOTIATION_MS
              : undefined,
            commandTimeout: this.#options.commandTimeout,
            journal,
            signal: this.#signal,
            trace,
          }),
      );
      if (this.hasConsole) {
        console = await this.#untilListening(
          process,
          deadline,
          timeout,
          () => Console.connect(this.consoleSocket!, name),
        );
      }
      if (this.#options.restore) await restoreState(client, this.#options.restore, deadline);
      if (!this.#options.paused && !this.#options.incoming) await client.execute("cont");
      return { client, console };
    } catch (error) {
      await client?.close();
      await console?.close();
      // Rarely (seen a few times in thousands of launches under load, on 7.2 and 10.0) a QEMU
      // greets and then never answers qmp_capabilities, however often it is asked; nothing has
      // run in it yet (it waits with -S), so it is stopped and started once more.
      if (
        attempt === 1 && error instanceof TimeoutError && /did not answer qmp_capabilities/.test(
          error.message,
        ) && performance.now() < deadline
      ) {
        await process.terminate(1000);
        this.restarts++;
        return await this.start(journal, trace, attempt + 1, signal, timeout);
      }
      throw await this.#notStarted(process, error);
    }
  }

  /** Stop a QEMU that did not start, and say why in the words that help most. */
  async #notStarted(process: QemuChild, error: unknown): Promise<unknown> {
    if (error instanceof LaunchError || this.#signal?.aborted) {
      // Given up on (a deadline, Ctrl-C): this QEMU must never come up later.
      await process.terminate(1000);
      return error;
    }
    // A startup error can come after QEMU listened: report its exit, not the broken connection.
    if (await process.exited(2000)) return exitedWhileStarting(this.spec.name, process);
    await process.terminate(1000);
    return new LaunchError(`QEMU did not start: ${(error as Error).message}`, {
      vm: this.spec.name,
      cause: error,
      exitCode: process.exit?.code,
      stderr: process.stderr,
    });
  }

  /** Remove the VM's directory (and on a host elsewhere, what reached it and its directory there). */
  async removeDir(): Promise<void> {
    if (this.host) {
      await this.#place.unexpose(this.#sockets());
      await this.#place.removeDir(this.qemuDir);
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** Bring the console log of a VM on a host elsewhere here (`consoleLogs` then names it). */
  async collectLogs(): Promise<void> {
    if (!this.host) return;
    const log = await this.#place.readText(`${this.qemuDir}/console.log`);
    if (log !== undefined) {
      await Deno.writeTextFile(`${this.dir}/console.log`, log, { mode: 0o600 });
    }
  }

  /** The sockets QEMU listens on: their paths here and where QEMU runs. */
  #sockets(): [string, string][] {
    return [
      "qmp.sock",
      ...(this.hasConsole ? ["serial.sock"] : []),
      ...(this.agentSocket ? ["qga.sock"] : []),
    ].map((socket) => [`${this.dir}/${socket}`, `${this.qemuDir}/${socket}`]);
  }

  #untilListening<T>(
    process: QemuChild,
    deadline: number,
    timeout: number,
    connect: (left: number) => Promise<T>,
  ): Promise<T> {
    // Through a forward the local socket always accepts; QEMU's side may not listen yet.
    const options = { signal: this.#signal, forwarded: this.host !== undefined };
    return untilListening(process, { deadline, timeout, vm: this.spec.name }, connect, options);
  }

  #record(pid: number | undefined): Promise<void> {
    return writeRecord(this.dir, {
      name: this.instance,
      // A host's pid means nothing here: ps and gc look at local processes.
      pid: this.host ? undefined : pid,
      ...(this.host ? { host: this.host.name } : {}),
      owner: Deno.pid,
      started: new Date().toISOString(),
      keep: this.#options.keep ?? false,
      qmp: this.qmpSocket,
      console: this.consoleSocket,
    });
  }

  async #removeSockets(): Promise<void> {
    for (const file of ["qmp.sock", "serial.sock"]) {
      await Deno.remove(`${this.dir}/${file}`).catch(() => {});
    }
  }

  #removeDirNow(): void {
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Best effort while the program exits.
    }
  }
}
