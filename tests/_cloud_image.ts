/**
 * A cloud image as distributions ship them, made from Debian's packages
 * only: one disk with an MBR, a FAT boot partition with SYSLINUX, the
 * kernel and initramfs, and an ext4 root with systemd, cloud-init, OpenSSH
 * and the guest agent. It boots through the firmware and is provisioned by
 * cloud-init; nothing of corral's is in it. Built once per machine (about a
 * minute) into `~/.cache/corral/cloud-test/`.
 */

const VERSION = 2;
const PACKAGES = [
  "systemd-sysv",
  "dbus",
  "udev",
  "linux-image-cloud-amd64",
  "cloud-init",
  "qemu-guest-agent",
  "openssh-server",
  "iproute2",
  "ifupdown",
  "isc-dhcp-client",
  "netbase",
  "procps",
];
const SYSLINUX_CFG = `DEFAULT linux
PROMPT 0
TIMEOUT 0
SERIAL 0 115200
LABEL linux
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=root ro console=tty0 console=ttyS0
`;
const BOOT_MIB = 64;
const SECTOR = 512;

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The image (qcow2), built first when it is not cached. */
export async function cloudImage(): Promise<string> {
  const cache = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`;
  const dir = `${cache}/corral/cloud-test/v${VERSION}`;
  const image = `${dir}/disk.qcow2`;
  if (await Deno.stat(`${dir}/done`).then(() => true, () => false)) return image;
  await Deno.mkdir(dir, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "corral-cloud-image-" });
  try {
    const tree = `${work}/tree`;
    const include = `--include=${PACKAGES.join(",")}`;
    await run("mmdebstrap", ["--variant=minbase", "--quiet", include, "bookworm", tree]);
    await Deno.writeTextFile(`${tree}/etc/fstab`, "LABEL=root / ext4 errors=remount-ro 0 1\n");
    await Deno.writeTextFile(`${tree}/etc/machine-id`, ""); // each VM makes its own
    // minbase has no locales: cloud-init's default en_US.UTF-8 would fail its locale module.
    await Deno.writeTextFile(`${tree}/etc/cloud/cloud.cfg.d/01-locale.cfg`, "locale: C.UTF-8\n");
    for (const entry of Deno.readDirSync(`${tree}/etc/ssh`)) {
      if (entry.name.startsWith("ssh_host_")) await Deno.remove(`${tree}/etc/ssh/${entry.name}`);
    }
    await bootPartition(tree, `${work}/boot.fat`);
    await Deno.writeFile(`${work}/root.ext4`, new Uint8Array());
    await Deno.truncate(`${work}/root.ext4`, 2560 * 2 ** 20);
    await run("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", tree, `${work}/root.ext4`]);
    await assemble(`${work}/disk.raw`, `${work}/boot.fat`, `${work}/root.ext4`);
    await run("qemu-img", ["convert", "-O", "qcow2", `${work}/disk.raw`, `${image}.new`]);
    await Deno.rename(`${image}.new`, image);
    await Deno.writeTextFile(`${dir}/done`, "");
    return image;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** A FAT file system with the kernel, the initramfs and SYSLINUX installed in its boot sector. */
async function bootPartition(tree: string, fat: string): Promise<void> {
  const boot = [...Deno.readDirSync(`${tree}/boot`)].map((e) => e.name);
  const kernel = boot.find((n) => n.startsWith("vmlinuz-"))!;
  const initrd = boot.find((n) => n.startsWith("initrd.img-"))!;
  await run("mkfs.vfat", ["-C", "-n", "BOOT", fat, String(BOOT_MIB * 1024)]);
  const cfg = `${fat}.cfg`;
  await Deno.writeTextFile(cfg, SYSLINUX_CFG);
  for (
    const [from, to] of [[`${tree}/boot/${kernel}`, "vmlinuz"], [
      `${tree}/boot/${initrd}`,
      "initrd.img",
    ], [cfg, "syslinux.cfg"]]
  ) {
    await run("mcopy", ["-i", fat, from!, `::${to}`]);
  }
  await run("syslinux", ["--install", fat]);
}

/**
 * The disk: SYSLINUX's MBR code, a partition table (the FAT partition
 * active, then Linux), and the two file systems at their sectors.
 */
async function assemble(disk: string, fat: string, root: string): Promise<void> {
  const fatSectors = (await Deno.stat(fat)).size / SECTOR;
  const rootSectors = (await Deno.stat(root)).size / SECTOR;
  const first = 2048;
  const second = first + fatSectors;
  const mbr = new Uint8Array(SECTOR);
  mbr.set((await Deno.readFile("/usr/lib/syslinux/mbr/mbr.bin")).subarray(0, 440));
  const entry = (at: number, active: boolean, type: number, start: number, count: number) => {
    const view = new DataView(mbr.buffer, 446 + 16 * at, 16);
    view.setUint8(0, active ? 0x80 : 0);
    view.setUint8(4, type);
    // CHS fields at their "use LBA" maximum; the firmware and Linux read the LBA fields.
    for (const offset of [1, 5]) view.setUint8(offset, 0xfe), view.setUint16(offset + 1, 0xffff);
    view.setUint32(8, start, true);
    view.setUint32(12, count, true);
  };
  entry(0, true, 0x0e, first, fatSectors); // FAT16, LBA
  entry(1, false, 0x83, second, rootSectors);
  mbr.set([0x55, 0xaa], 510);
  await Deno.writeFile(disk, mbr);
  using file = await Deno.open(disk, { write: true });
  await file.truncate((second + rootSectors) * SECTOR);
  for (const [part, at] of [[fat, first], [root, second]] as const) {
    await file.seek(at * SECTOR, Deno.SeekMode.Start);
    const source = await Deno.open(part); // its stream closes it
    await source.readable.pipeTo(file.writable, { preventClose: true });
  }
}
