/**
 * Set-up step of `deno task test` and `deno task demo`: make sure QEMU is
 * installed. As root it installs Debian's `qemu-system-x86` with apt-get;
 * otherwise it prints the exact command to run and exits 1. With
 * `--linux`, it also builds the `builtin:linux` guest ahead of its first
 * use (and installs qemu-guest-agent, whose libraries go into it); with
 * `--debian`, the `builtin:debian` image; with `--backports`, QEMU 10.0
 * from bookworm-backports next to the system's (for
 * `recipes/qemu-upgrade.yaml`).
 *
 * @module
 */

import { ensureLinuxGuest } from "../lib/vm/guest/linux.ts";
import { ensureDebianImage } from "../lib/vm/guest/debian.ts";

const QEMU = Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
const PACKAGES = ["qemu-system-x86"];
const INSTALL = `apt-get install -y --no-install-recommends ${PACKAGES.join(" ")}`;

async function qemuVersion(): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(QEMU, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

async function run(command: string, args: string[]): Promise<void> {
  console.error(`corral setup: ${command} ${args.join(" ")}`);
  const { success, code } = await new Deno.Command(command, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`${command} exited with code ${code}`);
}

if (import.meta.main) {
  const found = await qemuVersion();
  if (found) {
    console.error(`corral setup: ${found}`);
  } else if (Deno.uid() !== 0) {
    console.error(
      `corral setup: ${QEMU} was not found. Install QEMU, then run this again:\n` +
        `  sudo apt-get update && sudo ${INSTALL}`,
    );
    Deno.exit(1);
  } else {
    console.error(`corral setup: ${QEMU} was not found; installing it (we are root)`);
    await run("apt-get", ["update", "-q"]);
    await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...PACKAGES]);
    const installed = await qemuVersion();
    if (!installed) {
      console.error(`corral setup: ${QEMU} is still missing after the install`);
      Deno.exit(1);
    }
    console.error(`corral setup: ${installed}`);
  }
  if (Deno.args.includes("--tests")) {
    // What the tests drive besides QEMU: a terminal (the shell's tests), a guest agent on this
    // host (the agent's), ps (the lifecycle's), qemu-img (disks, backups), sshd and ssh (SSH
    // hosts), libvirtd and its QMP proxy (libvirt domains), Chromium (reports).
    const wanted = [
      ["tmux", "tmux"],
      ["qemu-ga", "qemu-guest-agent"],
      ["ps", "procps"],
      ["qemu-img", "qemu-utils"],
      ["ssh", "openssh-client"],
      ["sshd", "openssh-server"],
      ["ip", "iproute2"],
      ["libvirtd", "libvirt-daemon-system"],
      ["virt-qemu-qmp-proxy", "libvirt-clients-qemu"],
      ["chromium", "chromium"], // report.html rendered headless
      ["mmdebstrap", "mmdebstrap"], // builtin:debian
      ["mkfs.ext4", "e2fsprogs"],
      ["syslinux", "syslinux"], // the cloud image of the cloud-init test
      ["syslinux", "syslinux-common"], // its MBR code (a recommendation only)
      ["mcopy", "mtools"],
      ["mkfs.vfat", "dosfstools"],
    ];
    const missing = [];
    for (const [command, pkg] of wanted) if (!await has(command!)) missing.push(pkg!);
    if (missing.length > 0 && Deno.uid() === 0) {
      await run("apt-get", ["update", "-q"]);
      await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing]);
    } else if (missing.length > 0) {
      console.error(
        `corral setup: the tests need ${missing.join(", ")}: sudo apt-get install ${
          missing.join(" ")
        }`,
      );
      Deno.exit(1);
    }
  }
  if (Deno.args.includes("--linux")) {
    if (!await has("qemu-ga") && Deno.uid() === 0) {
      await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", "qemu-guest-agent"]);
    }
    try {
      const guest = await ensureLinuxGuest((line) => console.error(`corral setup: ${line}`));
      console.error(`corral setup: builtin:linux ready (${guest.kernel})`);
    } catch (error) {
      console.error(`corral setup: ${(error as Error).message}`);
      Deno.exit(1);
    }
  }
  if (Deno.args.includes("--debian")) await setupDebian();
  if (Deno.args.includes("--backports")) await setupBackports();
}

/** `--backports`: QEMU 10.0 from bookworm-backports, unpacked next to the system's QEMU. */
async function setupBackports(): Promise<void> {
  const script = new URL("install_qemu_backports.sh", import.meta.url).pathname;
  const out = await new Deno.Command("bash", { args: [script], stderr: "inherit" }).output();
  const wrapper = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    console.error("corral setup: QEMU 10.0 from bookworm-backports could not be installed");
    Deno.exit(1);
  }
  console.error(`corral setup: QEMU 10.0 ready next to the system's (${wrapper})`);
}

/** `--debian`: build the `builtin:debian` image ahead of its first use (mmdebstrap, as root installed). */
async function setupDebian(): Promise<void> {
  if (!await has("mmdebstrap") && Deno.uid() === 0) {
    await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", "mmdebstrap"]);
  }
  try {
    const image = await ensureDebianImage([], (line) => console.error(`corral setup: ${line}`));
    console.error(`corral setup: builtin:debian ready (${image.base})`);
  } catch (error) {
    console.error(`corral setup: ${(error as Error).message}`);
    Deno.exit(1);
  }
}

async function has(command: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat("/usr/sbin")) {
    if (await Deno.stat(`${dir}/${command}`).then(() => true, () => false)) return true;
  }
  return false;
}
