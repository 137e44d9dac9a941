/**
 * `builtin:debian`: Debian 12 with systemd, the guest agent, OpenSSH and
 * iproute2, built from Debian's packages with `mmdebstrap` (no loop
 * devices, no root mounts) into an ext4 image (`mkfs.ext4 -d`), kept as a
 * qcow2 base in a cache directory outside the repository; every VM runs on
 * an overlay of it. Extra `packages` make a base of their own, cached by
 * the package set. Each VM is provisioned at boot from its kernel command
 * line by a unit that runs before the network and SSH: its host name, its
 * lab addresses, its own SSH host keys and an SSH key to log in with.
 *
 * @module
 */

import { LaunchError } from "../../errors.ts";
import { encodeBase64, sha256Hex } from "../../_bytes.ts";

/** Bump when the way the image is made changes: cached images are rebuilt. */
const BUILDER_VERSION = 2;

/** The packages every `builtin:debian` has. */
export const DEBIAN_PACKAGES: readonly string[] = [
  "systemd-sysv",
  "dbus", // without it logind never runs and the ACPI power button is ignored
  "udev",
  "linux-image-cloud-amd64",
  "qemu-guest-agent",
  "openssh-server",
  "iproute2",
  "iputils-ping",
  "procps",
  "netbase",
  "ca-certificates",
  "curl",
];

/** A built Debian image. */
export interface DebianImage {
  /** The kernel. */
  kernel: string;
  /** Debian's own initramfs (it has virtio-blk and ext4). */
  initrd: string;
  /** The root file system: a qcow2 base, never written. */
  base: string;
  /** What went in beyond {@linkcode DEBIAN_PACKAGES}. */
  packages: string[];
}

/** Where images are kept: `$XDG_CACHE_HOME/corral/debian`, else `~/.cache/corral/debian`. */
export function debianCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/corral/debian`;
}

const building = new Map<string, Promise<DebianImage>>();

/**
 * The image with `packages` besides the standard ones, building it first
 * when it is not in the cache (30–60 s; concurrent launches share one build).
 *
 * @example
 * ```ts ignore
 * const image = await ensureDebianImage(["nginx"]);
 * console.log(image.base); // ~/.cache/corral/debian/v1-<hash>/root.qcow2
 * ```
 *
 * @throws {LaunchError} `mmdebstrap` or `mkfs.ext4` is missing, with the command that installs them.
 */
export function ensureDebianImage(
  packages: readonly string[] = [],
  log: (line: string) => void = () => {},
): Promise<DebianImage> {
  const wanted = [...new Set(packages)].sort();
  const key = wanted.join(" ");
  let image = building.get(key);
  if (!image) {
    image = cachedOrBuilt(wanted, log);
    building.set(key, image);
    image.catch(() => building.delete(key));
  }
  return image;
}

async function cachedOrBuilt(
  packages: string[],
  log: (line: string) => void,
): Promise<DebianImage> {
  const id = await sha256Hex(
    JSON.stringify({ v: BUILDER_VERSION, packages, provision: PROVISION }),
  );
  const dir = `${debianCacheDir()}/v${BUILDER_VERSION}-${id.slice(0, 16)}`;
  const image = {
    kernel: `${dir}/vmlinuz`,
    initrd: `${dir}/initrd.img`,
    base: `${dir}/root.qcow2`,
    packages,
  };
  if (await Deno.stat(`${dir}/done`).then(() => true, () => false)) return image;
  log(`building builtin:debian${packages.length ? ` with ${packages.join(", ")}` : ""}`);
  const work = await Deno.makeTempDir({ prefix: "corral-debian-" });
  try {
    const tree = `${work}/tree`;
    await tool("mmdebstrap", [
      "--variant=minbase",
      "--quiet",
      `--include=${[...DEBIAN_PACKAGES, ...packages].join(",")}`,
      "bookworm",
      tree,
    ], "mmdebstrap");
    await configure(tree);
    await Deno.mkdir(dir, { recursive: true });
    const boot = [...Deno.readDirSync(`${tree}/boot`)].map((e) => e.name);
    const kernel = boot.find((n) => n.startsWith("vmlinuz-"));
    const initrd = boot.find((n) => n.startsWith("initrd.img-"));
    if (!kernel || !initrd) throw problem("the kernel package left no vmlinuz or initrd.img");
    await Deno.copyFile(`${tree}/boot/${kernel}`, image.kernel);
    await Deno.copyFile(`${tree}/boot/${initrd}`, image.initrd);
    await Deno.writeFile(`${work}/root.raw`, new Uint8Array());
    await Deno.truncate(`${work}/root.raw`, 4 * 2 ** 30);
    await tool(
      "mkfs.ext4",
      ["-q", "-F", "-L", "root", "-d", tree, `${work}/root.raw`],
      "e2fsprogs",
    );
    await tool("qemu-img", [
      "convert",
      "-O",
      "qcow2",
      `${work}/root.raw`,
      `${image.base}.new`,
    ], "qemu-utils");
    await Deno.rename(`${image.base}.new`, image.base);
    await Deno.chmod(image.base, 0o444);
    await Deno.writeTextFile(`${dir}/done`, JSON.stringify({ packages }) + "\n");
    log(`builtin:debian is in ${dir}`);
    return image;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** What the image needs beyond the packages: edits in the tree, no chroot. */
async function configure(tree: string): Promise<void> {
  const write = (path: string, text: string, mode = 0o644) =>
    Deno.writeTextFile(`${tree}${path}`, text, { mode });
  await write("/etc/fstab", "/dev/vda / ext4 errors=remount-ro 0 1\n");
  await write("/etc/hostname", "debian\n");
  await write("/etc/hosts", "127.0.0.1 localhost\n");
  // systemd makes a machine-id each boot: no two VMs of one image share one.
  await write("/etc/machine-id", "");
  await write("/etc/sysctl.d/90-corral.conf", "kernel.unknown_nmi_panic=1\nkernel.panic=-1\n");
  // Each VM makes its own SSH host keys at its first boot.
  for (const entry of Deno.readDirSync(`${tree}/etc/ssh`)) {
    if (entry.name.startsWith("ssh_host_")) await Deno.remove(`${tree}/etc/ssh/${entry.name}`);
  }
  await write("/usr/local/sbin/corral-provision", PROVISION, 0o755);
  await write(
    "/etc/ssh/sshd_config.d/corral.conf",
    "HostKey /etc/ssh/ssh_host_ed25519_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n",
  );
  await write("/etc/systemd/system/corral-provision.service", PROVISION_UNIT);
  const wants = `${tree}/etc/systemd/system/sysinit.target.wants`;
  await Deno.mkdir(wants, { recursive: true });
  await Deno.symlink(
    "/etc/systemd/system/corral-provision.service",
    `${wants}/corral-provision.service`,
  );
  // A root shell on the serial console: the console steps talk to it.
  const getty = `${tree}/etc/systemd/system/serial-getty@ttyS0.service.d`;
  await Deno.mkdir(getty, { recursive: true });
  await write(
    "/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf",
    "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear %I 115200 linux\n",
  );
  const gettyWants = `${tree}/etc/systemd/system/getty.target.wants`;
  await Deno.mkdir(gettyWants, { recursive: true });
  await Deno.symlink(
    "/lib/systemd/system/serial-getty@.service",
    `${gettyWants}/serial-getty@ttyS0.service`,
  );
}

/**
 * SSH host keys: ed25519 and ECDSA, not RSA — a 3072-bit RSA key takes
 * 3–10 s to make under TCG, at every first boot and every clone (sshd is
 * told to offer only these two: see `configure`).
 */
const HOST_KEYS = "corral_host_keys() { for t in ed25519 ecdsa; do " +
  `ssh-keygen -q -t $t -N '' -f /etc/ssh/ssh_host_\${t}_key; done; };`;

/** The unit: before the network, SSH and the host name are used. */
const PROVISION_UNIT = `[Unit]
Description=corral: this VM's name, addresses and keys (from the kernel command line)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service
Before=network-pre.target ssh.service systemd-networkd.service sysinit.target
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/corral-provision
RemainAfterExit=yes
`;

/**
 * The provisioning script: `corral.hostname=NAME`, `corral.net=eth0=ADDR/LEN,…`
 * (the same as builtin:linux), `corral.key=BASE64` (an authorized SSH key).
 */
const PROVISION = `#!/bin/sh
set -u
${HOST_KEYS}
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    corral.hostname=*) name="\${arg#corral.hostname=}"
      echo "$name" > /etc/hostname; hostname "$name"
      printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' "$name" > /etc/hosts ;;
    corral.net=*) for nic in $(echo "\${arg#corral.net=}" | tr , ' '); do
        ip link set "\${nic%%=*}" up; ip addr add "\${nic#*=}" dev "\${nic%%=*}"
      done ;;
    corral.uplink=*) uplink="\${arg#corral.uplink=}" ;;
    corral.key=*) mkdir -p -m 700 /root/.ssh
      echo "\${arg#corral.key=}" | base64 -d > /root/.ssh/authorized_keys
      chmod 600 /root/.ssh/authorized_keys ;;
  esac
done
ip link set lo up
if [ -n "\${uplink:-}" ]; then  # out through QEMU's user-mode NAT
  ip route replace default via 10.0.2.2 dev "$uplink"; echo "nameserver 10.0.2.3" > /etc/resolv.conf
fi
[ -e /etc/ssh/ssh_host_ed25519_key ] || corral_host_keys
echo "corral-debian: provisioned $(hostname)" > /dev/ttyS0
`;

/**
 * The shell that gives a template's clone its own identity (as the
 * provisioning unit does at a boot): its host name, a new machine-id, new
 * SSH host keys (sshd restarted if it runs), and `key` (an SSH public key)
 * as root's only authorized key.
 *
 * Clones restore the template's memory, and with it the kernel's random
 * generator: they would all draw the same "random" machine-id and keys.
 * So first `seed` (bytes from this machine's generator, one set per clone)
 * goes into the kernel's pool and the generator is reseeded from it at
 * once (ioctl RNDRESEEDCRNG, through perl, which every Debian has).
 */
export function debianIdentity(name: string, key?: string, seed?: Uint8Array): string {
  return `set -e; ${reseed(seed)}hostname ${name}; echo ${name} > /etc/hostname; ` +
    `printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' ${name} > /etc/hosts; ` +
    // systemd bind-mounts a transient id over an empty /etc/machine-id: replace it with our own.
    `umount /etc/machine-id 2>/dev/null || true; ` +
    `cat /proc/sys/kernel/random/uuid | tr -d - > /etc/machine-id; ` +
    `rm -f /etc/ssh/ssh_host_*; ${HOST_KEYS} corral_host_keys; ${authorize(key)}` +
    `systemctl try-restart ssh`;
}

/**
 * The shell a guest restored from a checkpoint runs (the same VM, so the
 * same name and host keys): fresh randomness, and `key` as root's only
 * authorized key.
 */
export function debianRekey(key?: string, seed?: Uint8Array): string {
  return `set -e; ${reseed(seed)}${authorize(key)}true`;
}

/** Bytes of this machine's generator into the guest's pool, and its generator reseeded at once. */
function reseed(seed?: Uint8Array): string {
  const fresh = seed ?? crypto.getRandomValues(new Uint8Array(64));
  return `echo ${encodeBase64(fresh)} | base64 -d > /dev/urandom; ` +
    `perl -e 'open(my $f, ">", "/dev/urandom") or die $!; ioctl($f, 0x5207, 0) or die "reseed: $!"'; `;
}

/** `key` as root's only authorized SSH key (nothing without one). */
function authorize(key: string | undefined): string {
  if (key === undefined) return "";
  const encoded = encodeBase64(new TextEncoder().encode(key));
  return `mkdir -p -m 700 /root/.ssh && echo ${encoded} | base64 -d > /root/.ssh/authorized_keys && ` +
    `chmod 600 /root/.ssh/authorized_keys && `;
}

/**
 * The kernel command line that provisions VM `name` (see {@linkcode PROVISION});
 * its SSH key is added where its directory is (`corral.key=`).
 */
export function debianAppend(
  name: string,
  nics: readonly { address: string }[],
  options: { screen?: boolean | undefined; uplink?: string | undefined } = {},
): string {
  const net = nics.length
    ? ` corral.net=${nics.map((nic, i) => `eth${i}=${nic.address}`).join(",")}`
    : "";
  // The last console is /dev/console (the serial one); with a screen the kernel writes there too.
  const consoles = options.screen ? "console=tty0 console=ttyS0" : "console=ttyS0";
  const uplink = options.uplink ? ` corral.uplink=${options.uplink}` : "";
  return `root=/dev/vda rw ${consoles} net.ifnames=0 panic=-1 corral.hostname=${name}${net}${uplink}`;
}

async function tool(command: string, args: string[], pkg: string): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).output();
  } catch (cause) {
    throw problem(
      `builtin:debian needs ${command}: apt-get install ${pkg}`,
      cause,
    );
  }
  if (!output.success) {
    const err = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join("\n");
    throw problem(`${command} failed (exit ${output.code}): ${err}`);
  }
}

function problem(message: string, cause?: unknown): LaunchError {
  return new LaunchError(message, { cause });
}
