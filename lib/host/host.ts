/**
 * Host kinds: where a QEMU runs. The launcher prepares files, starts QEMU
 * and reaches its sockets through one `Host` interface, so a spec launches
 * the same here (`local.ts`) or elsewhere (`ssh_kind.ts`); a new kind (a
 * libvirt host that launches domains, a Proxmox node) is one file that
 * defines a {@linkcode HostKind}, plus one line in `registry.ts`.
 *
 * Attach kinds do the same for QEMUs corral did not start: an address
 * scheme (`ssh://`, `qemu:///system`) and how to reach its monitor here.
 *
 * @module
 */

import type { QemuChild } from "../_process.ts";
import type { HostSpec } from "./spec.ts";

/** What a program run on a host did. */
export interface ToolResult {
  /** Whether it exited 0. */
  success: boolean;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** How QEMU is started on a host. */
export interface SpawnOptions {
  /** Called if corral must kill it on exit (here: remove its directory). */
  onKill?: () => void;
  /** Let it outlive this program (`--keep`), where the host can. */
  outliveParent?: boolean | undefined;
  /** A network namespace to run it in, where the host has lab networks. */
  netns?: string | undefined;
}

/** A deadline for QEMU's sockets to appear, and the process that makes them. */
export interface ExposeWait {
  /** The QEMU whose sockets these are. */
  process: QemuChild;
  /** `performance.now()` past which it gives up. */
  deadline: number;
  /** The whole deadline, for the message. */
  timeout: number;
  /** The VM, for errors. */
  vm: string;
}

/** One place QEMUs run: this machine, or a host reached some way. */
export interface Host {
  /** The host's name in the inventory; `undefined` for this machine. */
  readonly name: string | undefined;
  /** What the host can do beyond running QEMU. */
  readonly can: {
    /** QEMUs may outlive corral (`--keep`), and `corral ps`/`gc` see them. */
    keep: boolean;
    /** VMs may join lab networks (namespaces, bridges) there. */
    networks: boolean;
  };
  /** The address other hosts reach this one at, for migration streams. */
  readonly address: string | undefined;
  /** The QEMU binary to run there, unless a spec names one. */
  readonly qemu: string | undefined;
  /** Run `program` with `args` there. */
  tool(program: string, args: string[]): Promise<ToolResult>;
  /** Write a private file there. */
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  /** A text file's contents there; `undefined` if it cannot be read. */
  readText(path: string): Promise<string | undefined>;
  /** Whether `path` can be read there. */
  readable(path: string): Promise<boolean>;
  /** A local file's path there (copied once to a host elsewhere). */
  stage(local: string): Promise<string>;
  /** The absolute, resolved path of `path` there. */
  realPath(path: string): Promise<string>;
  /** A private directory there for one QEMU whose local directory is `localDir`. */
  makeDir(instance: string, localDir: string): Promise<string>;
  /** Remove a directory there, with what is in it. */
  removeDir(path: string): Promise<void>;
  /** Start QEMU there. */
  spawnQemu(binary: string, args: string[], vm: string, options: SpawnOptions): Promise<QemuChild>;
  /**
   * Make QEMU's sockets (`[local, there]` pairs) reachable here once QEMU
   * made them; resolves `false` if QEMU exited first.
   */
  expose(sockets: readonly [string, string][], wait: ExposeWait): Promise<boolean>;
  /** Undo {@linkcode Host.expose}. */
  unexpose(sockets: readonly [string, string][]): Promise<void>;
  /** Whether the host still answers. */
  alive(): Promise<boolean>;
  /** Let go of the host (QEMUs started through it may die with it). */
  close(): Promise<void>;
}

/** A kind of host, chosen by a host spec's `kind` (default `ssh`). */
export interface HostKind {
  /** The name a spec's `kind` gives. */
  name: string;
  /** Reach the host a spec describes. */
  connect(spec: HostSpec): Promise<Host>;
}

/** Define a host kind (one file, one line in `registry.ts`). */
export function defineHostKind(kind: HostKind): HostKind {
  return kind;
}

/** A QEMU's monitor (and agent) made reachable here, and how to let go of them. */
export interface Attached {
  /** The QMP address here (`unix:/path`). */
  qmp: string;
  /** The agent's address here, if there is one. */
  agent?: string | undefined;
  /** The peer sends event data as JSON text (libvirt 9's proxy). */
  eventDataAsText?: boolean;
  /** Undo what reaching it set up. */
  release(): Promise<void>;
}

/** What an attach kind gets to reach a QEMU. */
export interface AttachContext {
  /** The VM's name. */
  vm: string;
  /** The agent address the spec gives, if any. */
  agent: string | undefined;
  /** The host the address needs (see `hostOf`), connected. */
  host: Host | undefined;
  /** The hosts the lab was given. */
  hosts: readonly HostSpec[];
}

/** A kind of attach address, e.g. `ssh://host/path` or `qemu:///system/DOMAIN`. */
export interface AttachKind {
  /** Its name, for messages. */
  name: string;
  /** Whether `address` is one of this kind. */
  matches(address: string): boolean;
  /** The host the address needs connected first, if any. */
  hostOf?(address: string, hosts: readonly HostSpec[]): HostSpec | undefined;
  /** Whether a VM attached this way has an agent without an agent address. */
  bringsAgent?: boolean;
  /** What `plan` says about VMs attached this way. */
  caveat?: string;
  /** Reach the QEMU at `address`. */
  open(address: string, context: AttachContext): Promise<Attached>;
}

/** Define an attach kind (one file, one line in `registry.ts`). */
export function defineAttachKind(kind: AttachKind): AttachKind {
  return kind;
}
