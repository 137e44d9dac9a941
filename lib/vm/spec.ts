/**
 * One description of a VM: the launch spec's fields, their checks, and
 * what follows from them (its guest, its agent channel, its accelerator),
 * used by the launcher, the recipe reader and the schema.
 *
 * @module
 */

import type { Nic } from "./network.ts";

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
   * agent, panics on NMI), `builtin:debian` (Debian 12 with systemd, the
   * agent and SSH, built with mmdebstrap on first use, each VM on an overlay
   * of it, provisioned at boot with its name and addresses), `none` (no
   * guest: `-machine none`, QMP only), or the path of a disk image that
   * boots through the firmware (a distribution's cloud image): the VM's disk
   * `root`, a copy-on-write overlay of it (the image is never written).
   */
  guest?: string;
  /**
   * A guest image's cloud-init: a NoCloud seed (a FAT drive labelled
   * `CIDATA`) with this `user-data`, `meta-data` and `network-config`.
   */
  cloudInit?: CloudInit;
  /** `builtin:debian` only: Debian packages baked into its image (an image per package set, cached). */
  packages?: readonly string[];
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
   * Give the VM a screen (a VGA card; no window: QEMU draws it for
   * screenshots), for `vm.screenshot`, keys and typed text. Default off.
   */
  display?: boolean;
  /**
   * Give the VM a host link: a user-mode NIC that reaches nothing, through
   * which `vm.forward(port)` reaches the guest's ports from this machine's
   * loopback. Default: on for `builtin:debian` (which configures it).
   */
  hostlink?: boolean;
  /**
   * Let the guest out through its host link: NAT by QEMU's user-mode
   * network (router 10.0.2.2, DNS 10.0.2.3, which its DHCP offers) instead
   * of a link that reaches nothing. Implies `hostlink`. Default off.
   */
  uplink?: boolean;
  /** Give the VM a memory balloon (virtio-balloon), for `memory-pressure` and `vm.balloonTo`. */
  balloon?: boolean;
  /**
   * A CD drive (`scsi-cd` on virtio-scsi, device `cdrom`): `true` empty, or
   * the image in it (read only); `cdrom: { insert | eject }` changes it.
   */
  cdrom?: boolean | string;
  /**
   * Disks, each a qcow2 file in the VM's directory (removed with it) on
   * virtio: `{ base }` is a copy-on-write overlay of an image that is never
   * written (one image serves many VMs), `{ size }` a blank disk (`1G`).
   * `name` is the disk's device name (default `disk0`, `disk1`, …), which
   * faults and backups address.
   */
  disks?: readonly DiskSpec[];
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
  /** The CPUs the VM can grow to while it runs (`cpus: { add }`, `vm.addCpus`). Default: `cpus`. */
  maxcpus?: number;
  /** Memory slots for DIMMs added while the VM runs (`memory: { add }`, `vm.addMemory`). Default 0. */
  slots?: number;
  /** With `slots`: the memory the VM can grow to (MiB or `4G`). Default: `memory` + 1 GiB per slot. */
  maxmem?: number | string;
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

/**
 * A NoCloud seed. `userData` is a cloud-config (an object, written as YAML
 * under `#cloud-config`) or any text cloud-init takes (a script, a
 * multipart); `users` and `sshKeys` are shorthands added to a cloud-config.
 * `metaData` gets `instance-id` (`corral-NAME`) and `local-hostname` (the
 * VM's name) unless it sets them.
 */
export interface CloudInit {
  /** The user data: a cloud-config object, or text as cloud-init reads it. */
  userData?: string | Record<string, unknown>;
  /** The meta data. */
  metaData?: Record<string, unknown>;
  /** A network configuration (version 1 or 2); without one, cloud-init asks DHCP on the first NIC. */
  networkConfig?: Record<string, unknown>;
  /** cloud-config `users` (the image's default user stays unless `users` leaves it out). */
  users?: readonly unknown[];
  /** Public keys that may log in as the image's default user (cloud-config `ssh_authorized_keys`). */
  sshKeys?: readonly string[];
}

/** One disk of a spec: an overlay of `base`, or blank of `size`; `name` is its device name. */
export type DiskSpec =
  & { name?: string }
  & ({ base: string } | { size: string } | {
    /**
     * This qcow2 file, used as it is and kept across runs (not in the VM's
     * directory): a disk of yours, or where a disk stands after
     * `block-move` or `snapshot: { external }`.
     */
    file: string;
    /** Made as a new qcow2 of this size when `file` does not exist. */
    size?: string;
  });

/**
 * A disk's device name: a letter, then letters, digits, `-`, `_` (QEMU's
 * node names, with room for corral's suffixes in 31 characters).
 */
export const DISK_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,23}$/;

/**
 * The device name of each of the spec's disks: its `name`, else `disk0`, `disk1`, ….
 *
 * @example
 * ```ts
 * import { diskIds } from "./spec.ts";
 * import assert from "node:assert/strict";
 *
 * const ids = diskIds({ disks: [{ size: "1M" }, { name: "data", size: "1M" }] });
 * assert.deepEqual(ids, ["disk0", "data"]);
 * ```
 */
export function diskIds(spec: Pick<LaunchSpec, "disks">): string[] {
  return (spec.disks ?? []).map((disk, i) => disk.name ?? `disk${i}`);
}

/**
 * The names corral gives the block nodes of its disk `id`: the guest's
 * pass-through node, the qcow2 node, the file, and a fault's filter.
 */
export function diskNodes(
  id: string,
  generation = 0,
): { io: string; format: string; file: string; fault: string } {
  // A storage job's new nodes (a move's copy, an external snapshot's overlay) are generation N.
  const n = generation ? `-${generation}` : "";
  return {
    io: `${id}-io${n}`,
    format: `${id}-fmt${n}`,
    file: `${id}-file${n}`,
    fault: `${id}-fault`,
  };
}

/**
 * The device names of every disk a VM of `spec` has once launched:
 * `builtin:debian`'s `root`, then the spec's own (see {@linkcode diskIds}).
 */
export function launchedDiskIds(spec: Pick<LaunchSpec, "disks" | "guest">): string[] {
  return [...(hasRootDisk(spec) ? ["root"] : []), ...diskIds(spec)];
}

/** Whether the guest boots from a disk `root` corral adds before the spec's own: builtin:debian, an image. */
export function hasRootDisk(spec: Pick<LaunchSpec, "guest">): boolean {
  return spec.guest === "builtin:debian" || imageGuest(spec) !== undefined;
}

/**
 * The spec with its guest image as disk `root` (an overlay, `/dev/vda`,
 * booted by the firmware) before its own disks, which keep their names.
 *
 * @example
 * ```ts
 * import { withImage } from "./spec.ts";
 * import assert from "node:assert/strict";
 *
 * const spec = withImage({ name: "a", guest: "/img/a.qcow2", disks: [{ size: "1G" }] }, "/img/a.qcow2");
 * assert.deepEqual(spec.disks, [{ name: "root", base: "/img/a.qcow2" }, { name: "disk0", size: "1G" }]);
 * ```
 */
export function withImage(spec: LaunchSpec, image: string): LaunchSpec {
  if (spec.disks?.[0]?.name === "root") return spec; // A move, or a template's clone: given.
  const own = (spec.disks ?? []).map((d, i) => ({ ...d, name: d.name ?? `disk${i}` }));
  return { ...spec, disks: [{ name: "root", base: image }, ...own] };
}

/** The guest-panic policies QEMU knows. */
export const PANIC_POLICIES: readonly PanicPolicy[] = ["pause", "shutdown", "exit-failure", "none"];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Whether `name` is a valid VM name: 1-63 letters, digits, `-`, `_`, `.`, not starting with a symbol. */
export function isVmName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name) && name !== "." && name !== "..";
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
  for (const key of ["cpus", "maxcpus", "slots"] as const) {
    const value = spec[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      problems.push(`${key} must be a positive integer, not ${JSON.stringify(value)}`);
    }
  }
  if ((spec.maxcpus ?? Infinity) < (spec.cpus ?? 1)) {
    problems.push(`maxcpus (${spec.maxcpus}) is fewer than cpus (${spec.cpus ?? 1})`);
  }
  if (spec.maxmem !== undefined && spec.slots === undefined) {
    problems.push("maxmem needs slots: the memory slots DIMMs are added into");
  }
  if (
    spec.memory !== undefined &&
    !(typeof spec.memory === "number" ? spec.memory > 0 : /^\d+[KMGT]?$/i.test(spec.memory))
  ) {
    problems.push(
      `memory must be a number of MiB or like 32M or 1G, not ${JSON.stringify(spec.memory)}`,
    );
  }
  return [...problems, ...diskProblems(spec), ...packageProblems(spec), ...cloudInitProblems(spec)];
}

const CLOUD_INIT_KEYS = ["userData", "metaData", "networkConfig", "users", "sshKeys"];
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const isObject = (value: unknown) =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `cloud-init` is for a guest image; its parts have their shapes; shorthands need a cloud-config. */
function cloudInitProblems(spec: LaunchSpec): string[] {
  const seed = spec.cloudInit as Record<string, unknown> | undefined;
  if (seed === undefined) return [];
  if (!isObject(seed)) return ["cloud-init must be a map of user-data, meta-data, …"];
  if (imageGuest(spec) === undefined) {
    return ["cloud-init is for a guest image (guest: PATH), which boots through the firmware"];
  }
  const problems = Object.keys(seed).filter((k) => !CLOUD_INIT_KEYS.includes(k)).map((k) =>
    `cloud-init: unknown key ${kebab(k)} (known: ${CLOUD_INIT_KEYS.map(kebab).join(", ")})`
  );
  const shape = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (seed[key] !== undefined && !ok(seed[key])) {
      problems.push(`cloud-init: ${kebab(key)} must be ${what}`);
    }
  };
  shape("userData", (v) => typeof v === "string" || isObject(v), "a cloud-config map or text");
  shape("metaData", isObject, "a map");
  shape("networkConfig", isObject, "a map (network config version 1 or 2)");
  shape("users", Array.isArray, "a list");
  shape(
    "sshKeys",
    (v) => Array.isArray(v) && v.every((k) => typeof k === "string"),
    "a list of keys",
  );
  if (typeof seed.userData === "string" && (seed.users ?? seed.sshKeys) !== undefined) {
    problems.push("cloud-init: users and ssh-keys go into a cloud-config: give user-data as a map");
  }
  if (spec.template !== undefined) problems.push("cloud-init does not take template: warm yet");
  return problems;
}

/** `packages` go to builtin:debian's image builder: Debian package names only. */
function packageProblems(spec: LaunchSpec): string[] {
  if (spec.packages === undefined) return [];
  if (spec.guest !== "builtin:debian") return ["packages are for guest builtin:debian only"];
  return spec.packages.filter((p) => !/^[a-z0-9][a-z0-9+.-]+$/.test(p)).map((p) =>
    `packages: ${JSON.stringify(p)} is not a Debian package name`
  );
}

/** Disk names must be well formed and distinct. */
function diskProblems(spec: LaunchSpec): string[] {
  const ids = diskIds(spec);
  return ids.flatMap((id, i) =>
    !DISK_NAME.test(id)
      ? [
        `disks[${i}].name ${
          JSON.stringify(id)
        } must be a letter, then up to 23 letters, digits, '-' or '_'`,
      ]
      : ids.indexOf(id) !== i
      ? [`disks[${i}].name ${JSON.stringify(id)} is taken by another of its disks`]
      : []
  );
}

/** Whether a launched VM gets a guest agent channel: asked for, or builtin:linux by default. */
export function hasAgentChannel(spec: Partial<LaunchSpec>): boolean {
  return spec.agent ?? (spec.guest === "builtin:linux" || spec.guest === "builtin:debian");
}

/** The host link's netdev id. */
export const HOSTLINK = "hostlink";
/** The guest's address on its host link (the user-mode network's first). */
export const HOSTLINK_ADDRESS = "10.0.2.15/24";

/** Whether a launched VM gets a host link (for forwards): asked for, or builtin:debian by default. */
export function hasHostlink(spec: Partial<LaunchSpec>): boolean {
  return spec.uplink === true || (spec.hostlink ?? spec.guest === "builtin:debian");
}

/** The guest a spec runs: its own kernel when it names one and no guest. */
export function guestOf(spec: LaunchSpec): string {
  return spec.guest ?? (spec.kernel ? "kernel" : "builtin:tiny");
}

/**
 * The disk image a spec boots as its guest through the firmware (from an
 * overlay, disk `root`), or `undefined` for a built-in guest, `none` or a
 * kernel.
 */
export function imageGuest(spec: Pick<LaunchSpec, "guest">): string | undefined {
  const guest = spec.guest;
  return guest === undefined || guest === "none" || guest.startsWith("builtin:")
    ? undefined
    : guest;
}

/**
 * The accelerator when a spec names none: `$CORRAL_ACCEL` (`kvm` or `tcg`),
 * else `tcg`. Not guessed from `/dev/kvm`: on machines where it opens but
 * nested virtualisation does not work, guests never boot under it.
 */
export function defaultAccel(): "kvm" | "tcg" {
  return Deno.env.get("CORRAL_ACCEL") === "kvm" ? "kvm" : "tcg";
}

/** A JSON-schema fragment. */
type Schema = Record<string, unknown>;
const text = (description?: string): Schema =>
  description ? { type: "string", description } : { type: "string" };
const texts: Schema = { type: "array", items: { type: "string" } };

/**
 * The launch spec's fields a recipe's `vms:` sets, each with its JSON
 * schema: the recipe reader takes these keys, and the recipe schema
 * describes them, from this one list (`validateSpec` checks the values,
 * for the reader and the launcher alike).
 */
export const SPEC_FIELDS: Readonly<Record<string, Schema>> = {
  guest: text("builtin:tiny, builtin:linux, builtin:debian, none, or a disk image that boots"),
  packages: { ...texts, description: "builtin:debian: Debian packages baked into its image" },
  "cloud-init": {
    type: "object",
    additionalProperties: false,
    description: "a guest image's NoCloud seed (a FAT drive labelled CIDATA)",
    properties: {
      "user-data": { anyOf: [{ type: "string" }, { type: "object" }] },
      "meta-data": { type: "object" },
      "network-config": { type: "object" },
      users: { type: "array" },
      "ssh-keys": texts,
    },
  },
  memory: { anyOf: [{ type: "number" }, { type: "string" }] },
  cpus: { type: "integer", minimum: 1 },
  maxcpus: { type: "integer", minimum: 1, description: "CPUs the VM can grow to (cpus: { add })" },
  slots: { type: "integer", minimum: 1, description: "memory slots for memory: { add }" },
  maxmem: {
    anyOf: [{ type: "number" }, { type: "string" }],
    description: "with slots: the memory the VM can grow to (default: memory + 1G per slot)",
  },
  machine: text(),
  qemu: text(),
  args: texts,
  panic: { enum: [...PANIC_POLICIES] },
  kernel: text(),
  initrd: text(),
  append: text(),
  agent: { type: "boolean" },
  balloon: { type: "boolean", description: "a memory balloon device, for memory-pressure" },
  cdrom: {
    anyOf: [{ type: "boolean" }, { type: "string" }],
    description:
      "a CD drive: true (empty) or the image in it; cdrom: { insert | eject } changes it",
  },
  hostlink: { type: "boolean", description: "a host-only NIC for forwards (builtin:debian: on)" },
  uplink: { type: "boolean", description: "NAT out through the host link (implies hostlink)" },
  display: { type: "boolean", description: "a screen (VGA), for screenshot, keys and type" },
  accel: { enum: ["kvm", "tcg"] },
  template: {
    enum: ["warm"],
    description: "start from the saved state of one template VM of this spec, not a boot",
  },
  host: text("the SSH host to run on (a name from hosts)"),
  disks: {
    type: "array",
    items: {
      type: "object",
      additionalProperties: false,
      properties: {
        name: { type: "string", pattern: DISK_NAME.source, description: "the disk's device name" },
        base: text(),
        size: text(),
        file: text(
          "a qcow2 file of yours, used as it is and kept across runs (made of size if new)",
        ),
      },
    },
  },
};
