/**
 * A launch spec as QEMU's command line: machine, sockets, guest, disks,
 * NICs, the agent channel and the panic action.
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import {
  defaultAccel,
  diskIds,
  diskNodes,
  guestOf,
  hasAgentChannel,
  hasHostlink,
  HOSTLINK,
  imageGuest,
  type LaunchSpec,
} from "./spec.ts";
import { seedDir } from "./guest/cloud_init.ts";

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
      (guest === "builtin:tiny"
        ? 16
        : guest === "none"
        ? undefined
        : guest === "builtin:debian" || imageGuest(spec) !== undefined
        ? 512
        : 256);
    if (memory !== undefined) args.push("-m", memoryArg(memory, spec));
    if (spec.cpus !== undefined || spec.maxcpus !== undefined) {
      const cpus = spec.cpus ?? 1;
      args.push("-smp", spec.maxcpus ? `cpus=${cpus},maxcpus=${spec.maxcpus}` : String(cpus));
    }
    args.push("-accel", spec.accel ?? defaultAccel());
    args.push(...guestDrive(guest, dir), ...diskArgs(spec, dir));
    spec.nics?.forEach((nic, i) => {
      args.push(
        "-netdev",
        nic.socket !== undefined
          ? `stream,id=net${i},server=off,addr.type=unix,addr.path=${escape(nic.socket)}`
          : `tap,id=net${i},ifname=${nic.tap},script=no,downscript=no`,
        "-device",
        `virtio-net-pci,netdev=net${i},mac=${mac(spec.name, i)}`,
      );
    });
    if (hasHostlink(spec)) {
      // Host-only (restrict=on lets nothing out) unless an uplink; hostfwd_add binds loopback ports.
      args.push(
        "-netdev",
        `user,id=${HOSTLINK},restrict=${spec.uplink ? "off" : "on"}`,
        "-device",
        `virtio-net-pci,netdev=${HOSTLINK},mac=${mac(spec.name, spec.nics?.length ?? 0)}`,
      );
    }
    if (spec.balloon) args.push("-device", "virtio-balloon-pci,id=balloon0");
    if (spec.cdrom) args.push(...cdromArgs(spec.cdrom));
    if (spec.display) args.push("-device", "VGA");
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

function guestDrive(guest: string, dir: string): string[] {
  if (guest === "builtin:tiny") {
    return ["-drive", `file=${escape(`${dir}/tiny.img`)},format=raw,if=floppy,readonly=on`];
  }
  // builtin:linux boots from -kernel and -initrd; builtin:debian and an image from disk root.
  if (guest.startsWith("builtin:") && guest !== "builtin:linux" && guest !== "builtin:debian") {
    throw new LaunchError(
      `unknown built-in guest ${guest}: the built-in guests are builtin:tiny, builtin:linux and builtin:debian`,
      {},
    );
  }
  return [];
}

/** The spec's disks, and a guest image's cloud-init seed drive (QEMU's `vvfat` of its directory). */
function diskArgs(spec: LaunchSpec, dir: string): string[] {
  const args = diskIds(spec).flatMap((id, i) =>
    diskDrive(id, diskFile(spec, dir, i), boots(spec, i))
  );
  if (!spec.cloudInit) return args;
  return [
    ...args,
    "-blockdev",
    `driver=vvfat,dir=${escape(seedDir(dir))},label=CIDATA,read-only=on,node-name=cidata`,
    "-device",
    "virtio-blk-pci,drive=cidata,id=cidata",
  ];
}

/** Disk `index`'s image: its own `file`, else the one corral made in the VM's directory. */
export function diskFile(spec: LaunchSpec, dir: string, index: number): string {
  const disk = spec.disks?.[index];
  return disk && "file" in disk ? disk.file : `${dir}/disk${index}.qcow2`;
}

/** Whether disk `index` is the one the firmware boots: a guest image's root disk. */
function boots(spec: LaunchSpec, index: number): boolean {
  return index === 0 && imageGuest(spec) !== undefined && spec.disks?.[0]?.name === "root";
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

/** A CD drive on its own virtio-scsi controller: empty, or with an image (read only). */
function cdromArgs(cdrom: true | string): string[] {
  const medium = typeof cdrom === "string" ? `,file=${escape(cdrom)},format=raw,readonly=on` : "";
  return [
    "-device",
    "virtio-scsi-pci,id=cdscsi",
    "-drive",
    `if=none,id=cdrom-drive,media=cdrom${medium}`,
    "-device",
    "scsi-cd,bus=cdscsi.0,drive=cdrom-drive,id=cdrom",
  ];
}

/** `-m`: the size, and with `slots` the slots and the most memory DIMMs can bring it to. */
function memoryArg(memory: number | string, spec: LaunchSpec): string {
  const size = typeof memory === "number" ? `${memory}M` : memory;
  if (!spec.slots) return size;
  const maxmem = spec.maxmem ?? `${mebibytes(size) + spec.slots * 1024}M`;
  return `size=${size},slots=${spec.slots},maxmem=${
    typeof maxmem === "number" ? `${maxmem}M` : maxmem
  }`;
}

/** `256M`, `1G`, `512` (MiB) in MiB. */
function mebibytes(size: string): number {
  const match = /^(\d+)([KMGT]?)$/i.exec(size)!;
  const unit = { K: 1 / 1024, M: 1, G: 1024, T: 1024 ** 2 }[match[2]!.toUpperCase()] ?? 1;
  return Number(match[1]) * unit;
}

/** QEMU option values double their commas. */
export function escape(value: string): string {
  return value.replaceAll(",", ",,");
}

/**
 * A disk's `-drive`: the qcow2 file under a pass-through `raw` node, all
 * named, so that a fault can be put between the guest and the qcow2 node
 * (`blockdev-reopen` of the raw node) — the guest's I/O fails while
 * qcow2's own metadata I/O, and so its consistency, stays untouched.
 */
function diskDrive(id: string, file: string, boot = false): string[] {
  const nodes = diskNodes(id);
  const drive = `id=${id},driver=raw,node-name=${nodes.io},` +
    `file.driver=qcow2,file.node-name=${nodes.format},` +
    `file.file.driver=file,file.file.filename=${escape(file)},file.file.node-name=${nodes.file}`;
  // The firmware boots the disk with a bootindex first, whatever the PCI order (a seed drive may come first).
  return boot
    ? ["-drive", `if=none,${drive}`, "-device", `virtio-blk-pci,drive=${id},bootindex=0`]
    : ["-drive", `if=virtio,${drive}`];
}
