/**
 * `builtin:linux`: a real Linux guest assembled from Debian packages on
 * first use — the cloud kernel, an initramfs with busybox, the kernel
 * modules a guest needs (virtio, virtio-serial, virtio-net, pvpanic, the
 * ACPI button) and qemu-guest-agent with its libraries. Its init prints
 * `corral-linux: ready` once the agent runs, panics on an unknown NMI
 * (as `nmi` drills expect), powers off on the ACPI button, configures the
 * addresses given on the kernel command line, runs the shell script given
 * base64-encoded as `corral.boot=` on the command line before it is ready
 * (see {@linkcode bootCommand}), and offers a shell on the serial console. Built into a cache directory outside the repository,
 * rebuilt when a package version changes.
 *
 * @module
 */

import { LaunchError } from "../../errors.ts";
import { cpio, type CpioEntry } from "./_cpio.ts";
import { encodeBase64, sha256Hex } from "../../_bytes.ts";

/** The Debian packages the guest is made from (the libraries are qemu-ga's). */
export const LINUX_PACKAGES = [
  "linux-image-cloud-amd64",
  "busybox-static",
  "qemu-guest-agent",
  "libglib2.0-0",
  "libudev1",
  "libnuma1",
  "liburing2",
  "libpcre2-8-0",
  "libc6",
];

/** Bump when the way the guest is assembled changes: cached guests are rebuilt. */
const BUILDER_VERSION = 4;

/** What init prints when the guest (and its agent) is ready. */
export const LINUX_READY = "corral-linux: ready";

/**
 * The kernel command-line argument that makes `builtin:linux` run `script`
 * at boot, before it is ready (mount a data disk, say): for `append`.
 *
 * @example
 * ```ts
 * import { bootCommand } from "./linux.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(bootCommand("echo hi"), "corral.boot=ZWNobyBoaQ==");
 * ```
 */
export function bootCommand(script: string): string {
  return `corral.boot=${encodeBase64(new TextEncoder().encode(script))}`;
}

/** The modules init loads, in an order that satisfies their dependencies. */
const MODULES = [
  "virtio_pci",
  "virtio_console",
  "virtio_net",
  "virtio_blk",
  "virtio_balloon",
  "virtio_scsi",
  "sr_mod",
  "isofs",
  "pvpanic-mmio",
  "pvpanic-pci",
  "button",
  "evdev",
];

/** A built guest. */
export interface LinuxGuest {
  /** The kernel image. */
  kernel: string;
  /** The gzipped initramfs. */
  initrd: string;
  /** The package versions it was built from. */
  versions: Record<string, string>;
}

/** Where built guests are kept: `$XDG_CACHE_HOME/corral/linux`, else `~/.cache/corral/linux`. */
export function linuxCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/corral/linux`;
}

let building: Promise<LinuxGuest> | undefined;
let built: LinuxGuest | undefined;

/**
 * The built guest, building it first when it is missing or a package
 * changed. Concurrent launches share one build, and later ones in the same
 * process reuse it (asking apt for the package versions takes seconds).
 *
 * @throws {LaunchError} A tool or package is missing, with the command that fixes it.
 */
export function ensureLinuxGuest(log: (line: string) => void = () => {}): Promise<LinuxGuest> {
  if (built) return Promise.resolve(built);
  building ??= build(log).then((guest) => built = guest).finally(() => building = undefined);
  return building;
}

async function build(log: (line: string) => void): Promise<LinuxGuest> {
  const dir = linuxCacheDir();
  // A new package version, or a change in how the guest is made, rebuilds it.
  const wanted = { ...await candidatesUpdatingOnce(log), "corral-builder": await builderHash() };
  const existing = await Deno.readTextFile(`${dir}/versions.json`).then(
    JSON.parse,
    () => undefined,
  );
  const guest = { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.gz`, versions: wanted };
  if (existing && JSON.stringify(existing) === JSON.stringify(wanted)) return guest;
  log(
    `building builtin:linux from ${
      Object.entries(wanted).filter(([p]) => p !== "corral-builder").map(([p, v]) => `${p} ${v}`)
        .join(", ")
    }`,
  );
  const work = await Deno.makeTempDir({ prefix: "corral-linux-" });
  try {
    const debs = `${work}/debs`;
    await Deno.mkdir(debs);
    const packages = Object.keys(wanted).filter((p) => p !== "corral-builder");
    await tool("apt-get", ["download", ...packages], debs, "apt-get download");
    const root = `${work}/root`;
    for await (const entry of Deno.readDir(debs)) {
      await tool("dpkg", ["-x", `${debs}/${entry.name}`, root], work, "dpkg -x");
    }
    const files = await initramfs(root);
    const kernel = [...Deno.readDirSync(`${root}/boot`)].find((e) => e.name.startsWith("vmlinuz-"));
    if (!kernel) throw problem("the kernel package holds no vmlinuz");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.copyFile(`${root}/boot/${kernel.name}`, `${dir}/vmlinuz.new`);
    await Deno.writeFile(`${dir}/initrd.gz.new`, await gzip(cpio(files)));
    await Deno.rename(`${dir}/vmlinuz.new`, guest.kernel);
    await Deno.rename(`${dir}/initrd.gz.new`, guest.initrd);
    await Deno.writeTextFile(`${dir}/versions.json`, JSON.stringify(wanted, null, 2) + "\n");
    log(`builtin:linux is in ${dir}`);
    return guest;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** A digest of what this module puts into the guest, beyond the packages. */
async function builderHash(): Promise<string> {
  return (await sha256Hex(`${BUILDER_VERSION}\n${INIT}${MODULES.join(",")}`)).slice(0, 16);
}

/** {@linkcode candidates}; as root, after an `apt-get update` when apt does not know the packages yet. */
async function candidatesUpdatingOnce(
  log: (line: string) => void,
): Promise<Record<string, string>> {
  try {
    return await candidates();
  } catch (error) {
    if (Deno.uid() !== 0) throw error;
    log("builtin:linux: apt-get update (apt does not know the packages yet)");
    await tool("apt-get", ["update", "-q"], "/", "apt-get update");
    return await candidates();
  }
}

/** The versions apt would download now: the kernel meta package resolved to its image. */
async function candidates(): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  const policy = await tool("apt-cache", ["policy", ...LINUX_PACKAGES], "/", "apt-cache policy");
  for (
    const [, name, version] of policy.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)
  ) {
    versions[name!] = version!;
  }
  const missing = LINUX_PACKAGES.filter((p) => !versions[p] || versions[p] === "(none)");
  if (missing.length > 0) {
    throw problem(
      `apt knows no ${missing.join(", ")}: run apt-get update (as root), then launch again`,
    );
  }
  const depends = await tool(
    "apt-cache",
    ["depends", LINUX_PACKAGES[0]!],
    "/",
    "apt-cache depends",
  );
  const image = /Depends: (linux-image-\S+)/.exec(depends)?.[1];
  if (!image) throw problem(`cannot tell which kernel ${LINUX_PACKAGES[0]} installs`);
  const imagePolicy = await tool("apt-cache", ["policy", image], "/", "apt-cache policy");
  versions[image] = /Candidate: (\S+)/.exec(imagePolicy)![1]!;
  return versions;
}

/** Everything the initramfs holds. */
async function initramfs(root: string): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  const dir = (path: string) => entries.push({ path, mode: 0o040755 });
  for (
    const path of [
      "bin",
      "sbin",
      "dev",
      "proc",
      "sys",
      "run",
      "tmp",
      "etc",
      "lib",
      "lib64",
      "lib/modules",
      "lib/x86_64-linux-gnu",
      "var",
      "var/run",
    ]
  ) dir(path);
  entries.push({ path: "dev/console", mode: 0o020600, rdev: [5, 1] });
  entries.push({
    path: "bin/busybox",
    mode: 0o100755,
    data: await Deno.readFile(`${root}/bin/busybox`),
  });
  entries.push({ path: "bin/sh", mode: 0o120777, data: text("busybox") });
  entries.push({
    path: "sbin/qemu-ga",
    mode: 0o100755,
    data: await Deno.readFile(`${root}/usr/sbin/qemu-ga`),
  });
  for (const lib of await libraries(`${root}/usr/sbin/qemu-ga`, root)) {
    const target = lib.includes("ld-linux")
      ? `lib64/${lib.split("/").pop()}`
      : `lib/x86_64-linux-gnu/${lib.split("/").pop()}`;
    entries.push({
      path: target,
      mode: 0o100755,
      data: await Deno.readFile(await unpacked(lib, root)),
    });
  }
  const modulesRoot = [...Deno.readDirSync(`${root}/lib/modules`)][0]!.name;
  const order = await moduleOrder(`${root}/lib/modules/${modulesRoot}`);
  for (const module of order) {
    entries.push({
      path: `lib/modules/${module.name}.ko`,
      mode: 0o100644,
      data: await Deno.readFile(module.path),
    });
  }
  entries.push({
    path: "etc/modules.order",
    mode: 0o100644,
    data: text(order.map((m) => m.name).join("\n") + "\n"),
  });
  entries.push({ path: "init", mode: 0o100755, data: text(INIT) });
  return entries;
}

/** The shared libraries `binary` needs, taken from the unpacked packages in `root` (`ldd`). */
async function libraries(binary: string, root: string): Promise<string[]> {
  const path = [`${root}/lib/x86_64-linux-gnu`, `${root}/usr/lib/x86_64-linux-gnu`].join(":");
  const out = await tool("ldd", [binary], "/", "ldd", { LD_LIBRARY_PATH: path });
  const missing = [...out.matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
  if (missing.length > 0) {
    throw problem(
      `qemu-ga needs ${missing.join(", ")}: no package of LINUX_PACKAGES holds them`,
    );
  }
  return [...out.matchAll(/(\/\S+\.so[.\d]*) \(/g)].map((m) => m[1]!);
}

/** The unpacked package's copy of a library `ldd` named (the dynamic loader is named by its host path). */
async function unpacked(lib: string, root: string): Promise<string> {
  const name = lib.split("/").pop()!;
  for (const dir of ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]) {
    const path = `${root}/${dir}/${name}`;
    if (await Deno.stat(path).then(() => true, () => false)) return path;
  }
  throw problem(`${name} is in none of the unpacked packages`);
}

/** The modules to load and everything they depend on, dependencies first. */
async function moduleOrder(modules: string): Promise<{ name: string; path: string }[]> {
  const paths = new Map<string, string>();
  for await (const path of walk(`${modules}/kernel`)) {
    if (path.endsWith(".ko")) {
      paths.set(path.split("/").pop()!.slice(0, -3).replaceAll("-", "_"), path);
    }
  }
  const order: { name: string; path: string }[] = [];
  const visit = async (name: string) => {
    const key = name.replaceAll("-", "_");
    if (order.some((m) => m.name === key)) return;
    const path = paths.get(key);
    if (!path) return; // Built in.
    const info = new TextDecoder("latin1").decode(await Deno.readFile(path));
    const depends = /depends=([\w,-]*)/.exec(info)?.[1] ?? "";
    for (const dep of depends.split(",").filter(Boolean)) await visit(dep);
    order.push({ name: key, path });
  };
  for (const name of MODULES) await visit(name);
  return order;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

async function tool(
  command: string,
  args: string[],
  cwd: string,
  what: string,
  env: Record<string, string> = {},
): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, cwd, env, stdout: "piped", stderr: "piped" })
      .output();
  } catch (cause) {
    throw problem(
      `${command} is missing: builtin:linux is built with Debian's apt and dpkg`,
      cause,
    );
  }
  if (!output.success) {
    const err = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-2).join(" ");
    throw problem(
      `${what} failed: ${err}${
        what.startsWith("apt-get") ? " (run apt-get update as root first)" : ""
      }`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

function problem(message: string, cause?: unknown): LaunchError {
  return new LaunchError(`builtin:linux: ${message}`, { cause });
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The guest's init: a busybox shell script. */
const INIT = `#!/bin/sh
/bin/busybox --install -s /bin
# qemu-ga's guest-set-time runs /sbin/hwclock to set the RTC after the clock.
ln -s /bin/busybox /sbin/hwclock
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /etc/modules.order); do insmod /lib/modules/$m.ko 2>/dev/null; done
# A drill's NMI panics the guest, as on a server configured for it.
echo 1 > /proc/sys/kernel/unknown_nmi_panic
ip link set lo up
# Addresses from the kernel command line: corral.net=eth0=10.44.0.2/24,eth1=…
for arg in $(cat /proc/cmdline); do
  case "$arg" in corral.net=*)
    for spec in $(echo "\${arg#corral.net=}" | tr , ' '); do
      ip addr add "\${spec#*=}" dev "\${spec%%=*}" && ip link set "\${spec%%=*}" up
    done;;
  esac
done
# Commands to run at boot, before ready (as cloud-init's bootcmd): corral.boot=BASE64 (a shell
# script; base64 because the command line splits at spaces).
for arg in $(cat /proc/cmdline); do
  case "$arg" in corral.boot=*) echo "\${arg#corral.boot=}" | base64 -d > /run/boot.sh && sh /run/boot.sh;; esac
done
# The ACPI power button powers off: its input device only speaks when pressed.
power=$(grep -A5 'Name="Power Button"' /proc/bus/input/devices | sed -n 's/.*Handlers=.*\\(event[0-9]*\\).*/\\1/p' | head -n 1)
if [ -n "$power" ]; then (dd if=/dev/input/$power bs=24 count=1 >/dev/null 2>&1 && poweroff -f) & fi
for port in /sys/class/virtio-ports/*; do
  if [ "$(cat $port/name 2>/dev/null)" = org.qemu.guest_agent.0 ]; then
    qemu-ga -m virtio-serial -p /dev/\${port##*/} -t /run -d -f /run/qga.pid
  fi
done
echo "${LINUX_READY}"
while true; do setsid cttyhack sh; done
`;
