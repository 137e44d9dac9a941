/**
 * One launched QEMU machine: a spec becomes a command line, a private
 * runtime directory with its disks, and a process that never outlives its
 * parent, connected over QMP with its serial console. `launch()` wraps it
 * in a `Vm`.
 *
 * @module
 */

import { ConnectError, ConnectionClosedError, LaunchError, TimeoutError } from "../errors.ts";
import { formatMs, shellWord } from "../_text.ts";
import { QmpClient, type QmpTrace } from "../qmp/client.ts";
import type { EventJournal } from "../qmp/journal.ts";
import { Console } from "./console.ts";
import { TINY_IMAGE } from "./guest/_tiny_image.ts";
import { ensureLinuxGuest } from "./guest/linux.ts";
import type { Nic } from "./network.ts";
import { makeVmDir } from "../_runtime_dir.ts";
import type { QemuChild } from "../_process.ts";
import { migrationEnd } from "./_migration.ts";
import type { Host, ToolResult } from "../host/host.ts";
import { LOCAL } from "../host/local.ts";
import { writeRecord } from "./registry.ts";

/** What QEMU does when the guest panics (QEMU's `-action panic=…`). */
export type PanicPolicy = "pause" | "shutdown" | "exit-failure" | "none";

/** What to launch. */
export interface LaunchSpec {
  /** The VM's name: letters, digits, `-`, `_` and `.`. */
  name: string;
  /**
   * `builtin:tiny` (default: corral's 512-byte guest that prints READY and
   * panics on NMI), `builtin:linux` (a Linux guest built from Debian
   * packages on first use: prints `corral-linux: ready`, runs the guest
   * agent, panics on NMI), `none` (no guest: `-machine none`, QMP only), or
   * the path of a disk image, opened with `snapshot=on` so it is never
   * written.
   */
  guest?: string;
  /** A kernel to boot directly (QEMU `-kernel`). `builtin:linux` sets its own. */
  kernel?: string;
  /** An initramfs for `kernel` (QEMU `-initrd`). */
  initrd?: string;
  /** The kernel command line (QEMU `-append`); for `builtin:linux`, added to its own. */
  append?: string;
  /**
   * Give the VM a guest agent channel (virtio-serial port
   * `org.qemu.guest_agent.0`, socket `qga.sock` in its directory), for
   * `vm.agent`. Default: on for `builtin:linux`, off otherwise.
   */
  agent?: boolean;
  /**
   * Disks, each a qcow2 file in the VM's directory (removed with it) on
   * virtio: `{ base }` is a copy-on-write overlay of an image that is never
   * written (one image serves many VMs), `{ size }` a blank disk (`1G`).
   */
  disks?: readonly ({ base: string } | { size: string })[];
  /**
   * NICs on lab networks (made by `LabNetworks`): QEMU then runs in their
   * network namespace, with a virtio-net device per NIC; `builtin:linux`
   * configures the addresses (`corral.net=` on its command line).
   */
  nics?: readonly Nic[];
  /** `kvm` or `tcg`. Default: `$CORRAL_ACCEL`, else `tcg` (software emulation, works everywhere). */
  accel?: "kvm" | "tcg";
  /** Guest memory: a number of MiB or QEMU's syntax (`32M`, `1G`). Default 16 MiB for builtin:tiny, 256 MiB for builtin:linux, else QEMU's. */
  memory?: number | string;
  /** Number of virtual CPUs. Default 1. */
  cpus?: number;
  /** QEMU machine type. Default `pc` (`none` for guest `none`). */
  machine?: string;
  /** The QEMU binary. Default `$CORRAL_QEMU` or `qemu-system-x86_64`. */
  qemu?: string;
  /** Extra QEMU arguments, appended as they are. */
  args?: readonly string[];
  /** What QEMU does on a guest panic. Default `pause`. */
  panic?: PanicPolicy;
  /**
   * The SSH host to run on: a name from the launch options' `hosts` (a
   * recipe's `hosts:`). Default: this machine.
   */
  host?: string;
  /**
   * `warm`: in a `Lab`, the VMs of this spec start from the saved state of
   * one template VM that booted once, instead of each booting (see
   * `prepareTemplates`). `launch()` alone boots.
   */
  template?: "warm";
}

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

/** The guest-panic policies QEMU knows. */
export const PANIC_POLICIES: readonly PanicPolicy[] = ["pause", "shutdown", "exit-failure", "none"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Whether `name` is a valid VM name: 1-63 letters, digits, `-`, `_`, `.`, not starting with a symbol. */
export function isVmName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name) && name !== "." && name !== "..";
}

/**
 * The QEMU arguments for `spec`, with the VM's files in `dir`.
 *
 * @example
 * ```ts
 * import { qemuArgs } from "./machine.ts";
 * import assert from "node:assert/strict";
 *
 * const args = qemuArgs({ name: "a", guest: "none" }, "/run/a");
 * assert.deepEqual(args.slice(0, 4), ["-name", "a,process=a", "-machine", "none"]);
 * ```
 */
export function qemuArgs(
  spec: LaunchSpec,
  dir: string,
  paused = true,
  instance = spec.name,
): string[] {
  const guest = guestOf(spec);
  const none = guest === "none";
  const args = ["-name", `${instance},process=${instance}`];
  args.push("-machine", spec.machine ?? (none ? "none" : "pc"), "-nodefaults", "-display", "none");
  args.push("-qmp", `unix:${escape(`${dir}/qmp.sock`)},server=on,wait=off`);
  if (paused) args.push("-S");
  if (!none) {
    // A kernel of the user's own gets what a Linux needs, not the tiny guest's 16 MiB.
    const memory = spec.memory ??
      (guest === "builtin:tiny" ? 16 : guest === "none" ? undefined : 256);
    if (memory !== undefined) args.push("-m", typeof memory === "number" ? `${memory}M` : memory);
    if (spec.cpus !== undefined) args.push("-smp", String(spec.cpus));
    args.push("-accel", spec.accel ?? defaultAccel());
    args.push(...guestDrive(guest, dir));
    (spec.disks ?? []).forEach((_, i) => {
      args.push(
        "-drive",
        `file=${escape(`${dir}/disk${i}.qcow2`)},format=qcow2,if=virtio,id=disk${i}`,
      );
    });
    spec.nics?.forEach((nic, i) => {
      args.push(
        "-netdev",
        `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`,
        "-device",
        `virtio-net-pci,netdev=net${i},mac=${mac(spec.name, i)}`,
      );
    });
    if (spec.kernel) args.push("-kernel", spec.kernel);
    if (spec.initrd) args.push("-initrd", spec.initrd);
    if (spec.append) args.push("-append", spec.append);
    if (hasAgentChannel(spec)) {
      args.push(
        "-device",
        "virtio-serial-pci",
        "-chardev",
        `socket,id=qga0,path=${escape(`${dir}/qga.sock`)},server=on,wait=off`,
        "-device",
        "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
      );
    }
    args.push(
      "-chardev",
      `socket,id=ser0,path=${escape(`${dir}/serial.sock`)},server=on,wait=off,` +
        `logfile=${escape(`${dir}/console.log`)},logappend=on`,
      "-serial",
      "chardev:ser0",
    );
    args.push("-device", "pvpanic", "-action", `panic=${spec.panic ?? "pause"}`);
  }
  args.push(...(spec.args ?? []));
  return args;
}

/**
 * The accelerator when a spec names none: `$CORRAL_ACCEL` (`kvm` or `tcg`),
 * else `tcg`. Not guessed from `/dev/kvm`: on machines where it opens but
 * nested virtualisation does not work, guests never boot under it.
 */
export function defaultAccel(): "kvm" | "tcg" {
  return Deno.env.get("CORRAL_ACCEL") === "kvm" ? "kvm" : "tcg";
}

/** Check a spec; every problem is reported at once. */
export function validateSpec(spec: LaunchSpec): string[] {
  const problems: string[] = [];
  if (!isVmName(spec.name)) {
    problems.push(
      `name ${
        JSON.stringify(spec.name)
      } must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit`,
    );
  }
  if (spec.panic !== undefined && !PANIC_POLICIES.includes(spec.panic)) {
    problems.push(
      `panic must be one of ${PANIC_POLICIES.join(", ")}, not ${JSON.stringify(spec.panic)}`,
    );
  }
  if (spec.template !== undefined && spec.template !== "warm") {
    problems.push(`template must be warm, not ${JSON.stringify(spec.template)}`);
  }
  if (spec.accel !== undefined && spec.accel !== "kvm" && spec.accel !== "tcg") {
    problems.push(`accel must be kvm or tcg, not ${JSON.stringify(spec.accel)}`);
  }
  if (spec.cpus !== undefined && (!Number.isInteger(spec.cpus) || spec.cpus < 1)) {
    problems.push(`cpus must be a positive integer, not ${JSON.stringify(spec.cpus)}`);
  }
  if (
    spec.memory !== undefined &&
    !(typeof spec.memory === "number" ? spec.memory > 0 : /^\d+[KMGT]?$/i.test(spec.memory))
  ) {
    problems.push(
      `memory must be a number of MiB or like 32M or 1G, not ${JSON.stringify(spec.memory)}`,
    );
  }
  return problems;
}

function guestDrive(guest: string, dir: string): string[] {
  if (guest === "builtin:tiny") {
    return ["-drive", `file=${escape(`${dir}/tiny.img`)},format=raw,if=floppy,readonly=on`];
  }
  if (guest === "builtin:linux" || guest === "kernel") return []; // It boots from -kernel and -initrd.
  if (guest.startsWith("builtin:")) {
    throw new LaunchError(
      `unknown built-in guest ${guest}: the built-in guests are builtin:tiny and builtin:linux`,
      {},
    );
  }
  const format = /\.qcow2$/i.test(guest)
    ? "qcow2"
    : /\.(img|raw)$/i.test(guest)
    ? "raw"
    : undefined;
  return [
    "-drive",
    `file=${escape(guest)},${format ? `format=${format},` : ""}if=ide,snapshot=on`,
  ];
}

/** Whether a launched VM gets a guest agent channel: asked for, or builtin:linux by default. */
export function hasAgentChannel(spec: Partial<LaunchSpec>): boolean {
  return spec.agent ?? spec.guest === "builtin:linux";
}

/** The guest a spec runs: its own kernel when it names one and no guest. */
function guestOf(spec: LaunchSpec): string {
  return spec.guest ?? (spec.kernel ? "kernel" : "builtin:tiny");
}

/**
 * The disk image a spec boots as its guest (opened with `snapshot=on`), or
 * `undefined` for a built-in guest, `none` or a kernel.
 */
export function imageGuest(spec: Pick<LaunchSpec, "guest">): string | undefined {
  const guest = spec.guest;
  return guest === undefined || guest === "none" || guest.startsWith("builtin:")
    ? undefined
    : guest;
}

/** Create the spec's disks in `dir` with qemu-img, where QEMU runs: overlays of their base, or blank. */
async function makeDisks(spec: LaunchSpec, dir: string, place: Host): Promise<void> {
  for (const [i, disk] of (spec.disks ?? []).entries()) {
    const file = `${dir}/disk${i}.qcow2`;
    const args = "base" in disk
      ? [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        await place.realPath(disk.base),
        "-F",
        await imageFormat(disk.base, place),
        file,
      ]
      : ["create", "-q", "-f", "qcow2", file, disk.size];
    let output: ToolResult;
    try {
      output = await place.tool("qemu-img", args);
    } catch (cause) {
      throw new LaunchError("disks need qemu-img: apt-get install qemu-utils", {
        vm: spec.name,
        cause,
      });
    }
    if (!output.success) {
      throw new LaunchError(`disk ${i}: qemu-img failed: ${output.stderr.trim()}`, {
        vm: spec.name,
      });
    }
  }
}

/** `qcow2` or `raw`, as qemu-img sees the image. */
async function imageFormat(path: string, place: Host): Promise<string> {
  const { stdout } = await place.tool("qemu-img", ["info", "--output=json", path]);
  try {
    return JSON.parse(stdout).format ?? "raw";
  } catch {
    return "raw";
  }
}

/** A stable, locally administered MAC for NIC `index` of the VM `name`. */
function mac(name: string, index: number): string {
  let hash = 2166136261;
  for (const char of `${name}/${index}`) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  }
  const bytes = [0x52, 0x54, 0x00, (hash >>> 16) & 255, (hash >>> 8) & 255, hash & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The spec with the built Linux guest's kernel, initramfs and command line. */
async function withLinux(spec: LaunchSpec): Promise<LaunchSpec> {
  const linux = await ensureLinuxGuest();
  const net = spec.nics?.length
    ? ` corral.net=${spec.nics.map((nic, i) => `eth${i}=${nic.address}`).join(",")}`
    : "";
  const append = `console=ttyS0 quiet panic=-1${net}${spec.append ? ` ${spec.append}` : ""}`;
  return {
    ...spec,
    kernel: spec.kernel ?? linux.kernel,
    initrd: spec.initrd ?? linux.initrd,
    append,
  };
}

/**
 * Load a saved machine state into a QEMU waiting with `-incoming defer`,
 * and wait until it completed (the `events` capability first, or no
 * MIGRATION event comes).
 */
async function restoreState(client: QmpClient, file: string, deadline: number): Promise<void> {
  const left = () => ({ timeout: Math.max(1, deadline - performance.now()) });
  await client.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "events", state: true }],
  }, left());
  const since = client.journal.cursor;
  await client.execute("migrate-incoming", { uri: `exec:cat ${shellWord(file)}` }, left());
  if (await migrationEnd(client.journal, since, left().timeout) !== "completed") {
    throw new LaunchError(`the saved state ${file} could not be loaded`, {});
  }
}

function exitedWhileStarting(name: string, process: QemuChild): LaunchError {
  const code = process.exit?.code;
  return new LaunchError(`QEMU exited with code ${code} while starting`, {
    vm: name,
    exitCode: code,
    stderr: process.stderr,
  });
}

/** How long the first QEMU of a start may take to negotiate before it is started again. */
const FIRST_NEGOTIATION_MS = 12_000;

/** QEMU option values double their commas. */
function escape(value: string): string {
  return value.replaceAll(",", ",,");
}

/** One launched QEMU: its spec, its directory, its current process. */
export class Machine {
  /** What was launched. */
  readonly spec: LaunchSpec;
  /** The VM's private directory: sockets, console.log. */
  readonly dir: string;
  /** The spec as given, before the built-in guest's parts were filled in. */
  #given: LaunchSpec;
  #earlierLogs: string[] = [];
  #plugged = new Map<string, Record<string, unknown>>();
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

  /** The launch options a caller may have set for the VM's life. */
  get commandTimeout(): number | undefined {
    return this.#options.commandTimeout;
  }

  /**
   * A machine for the destination of a live migration: the same spec (with
   * `changes`) and launch options, waiting with `-incoming defer`.
   */
  async twin(
    instance: string,
    changes: Partial<LaunchSpec> = {},
    signal?: AbortSignal,
  ): Promise<Machine> {
    const spec = { ...this.#given, ...changes, name: this.spec.name };
    this.#refuseMove(spec);
    const twin = await Machine.create(spec, {
      ...this.#options,
      incoming: true,
      paused: false,
      instance,
      signal: signal ?? this.#options.signal,
    }, this);
    twin.#plugged = new Map(this.#plugged);
    return twin;
  }

  /**
   * Refuse, before anything stops, a move whose destination could not
   * carry what the guest wrote: disks to another host (they are not
   * copied), or a guest image opened with `snapshot=on` (its writes go to
   * a temporary file only this QEMU has).
   */
  #refuseMove(to: LaunchSpec): void {
    const elsewhere = (to.host ?? undefined) !== (this.spec.host ?? undefined);
    if (elsewhere && this.spec.disks?.length) {
      throw new LaunchError(
        `its disks cannot move to ${to.host ? `host '${to.host}'` : "this machine"}: ` +
          `corral does not copy disks between hosts; migrate it on its own host, or back ` +
          `it up and launch it there from the backup`,
        { vm: this.spec.name },
      );
    }
    const image = imageGuest(this.spec);
    if (image !== undefined) {
      throw new LaunchError(
        `its guest image ${image} is opened with snapshot=on: what the guest wrote is in a ` +
          `temporary file a new QEMU cannot take over; give the image as disks: [{ base: IMAGE }] ` +
          `to migrate it`,
        { vm: this.spec.name },
      );
    }
  }

  /** The files of the spec's disks where QEMU runs, in order. */
  get diskFiles(): string[] {
    return (this.spec.disks ?? []).map((_, i) => `${this.qemuDir}/disk${i}.qcow2`);
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
      const output = await this.#place.tool("ln", [file, ours[i]!]);
      if (!output.success) {
        throw new LaunchError(`disk ${i}: could not take over ${file}: ${output.stderr.trim()}`, {
          vm: this.spec.name,
        });
      }
    }
  }

  /**
   * Note a device hot-plugged into this QEMU: a migration destination (or
   * a start again) gets it on its command line, so the devices match.
   */
  plugged(device: { id: string } & Record<string, unknown>): void {
    this.#plugged.set(device.id, device);
  }

  /** Note a device removed (`DEVICE_DELETED`). */
  unplugged(id: string): void {
    this.#plugged.delete(id);
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
    if ((spec.guest ?? "") === "builtin:linux") spec = await withLinux(spec);
    const instance = options.instance ?? spec.name;
    const dir = await makeVmDir(instance);
    let qemuDir = dir;
    try {
      qemuDir = await place.makeDir(instance, dir);
      if (qemuDir !== dir) {
        if (given.guest === "builtin:linux") {
          spec = {
            ...spec,
            kernel: await place.stage(spec.kernel!),
            initrd: await place.stage(spec.initrd!),
          };
        }
      }
    } catch (error) {
      await Deno.remove(dir, { recursive: true });
      throw error;
    }
    // A record from the start, so that `corral gc` can tell whose directory this is.
    const machine = new Machine(spec, given, { dir, qemuDir }, place, options);
    try {
      await machine.#record(undefined);
      if (diskSource) await machine.#adoptDisks(diskSource);
      else await makeDisks(spec, qemuDir, place);
      const image = imageGuest(spec);
      if (guestOf(spec) === "builtin:tiny") {
        await place.writeFile(`${qemuDir}/tiny.img`, TINY_IMAGE);
      } else if (image !== undefined && !await place.readable(image)) {
        throw new LaunchError(`cannot read the guest image ${image}`, { vm: spec.name });
      }
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
  ): Promise<{ client: QmpClient; console: Console | undefined }> {
    this.#signal = signal;
    const name = this.spec.name;
    const binary = this.spec.qemu ?? this.#place.qemu ?? "qemu-system-x86_64";
    await this.#removeSockets();
    const args = [
      ...qemuArgs(this.spec, this.qemuDir, true, this.instance),
      ...[...this.#plugged.values()].flatMap((device) => ["-device", JSON.stringify(device)]),
      ...(this.#options.incoming || this.#options.restore ? ["-incoming", "defer"] : []),
    ];
    const process = this.#process = await this.#place.spawnQemu(binary, args, name, {
      onKill: () => this.#removeDirNow(),
      outliveParent: this.#options.keep,
      netns: this.spec.nics?.[0]?.netns,
    });
    await this.#record(process.pid);
    const timeout = this.#options.timeout ?? 30_000;
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
        return await this.start(journal, trace, attempt + 1, signal);
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

  async #untilListening<T>(
    process: QemuChild,
    deadline: number,
    timeout: number,
    connect: (left: number) => Promise<T>,
  ): Promise<T> {
    // Through a forward the local socket always accepts; QEMU's side may not listen yet.
    const forwarded = this.host !== undefined;
    // The socket file appears before QEMU listens: retry while QEMU lives.
    for (let delay = 2;; delay = Math.min(delay * 2, 50)) {
      this.#signal?.throwIfAborted();
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new TimeoutError(
          `QEMU did not start listening within ${formatMs(timeout)}`,
          { vm: this.spec.name, timeout },
        );
      }
      try {
        return await connect(left);
      } catch (error) {
        const retry = error instanceof ConnectError ||
          error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused ||
          (forwarded && error instanceof ConnectionClosedError);
        if (!retry) throw error;
      }
      if (await process.exited(delay)) {
        await process.status;
        throw exitedWhileStarting(this.spec.name, process);
      }
    }
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
