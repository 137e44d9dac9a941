/**
 * libvirtd for the tests, without systemd (as `../shared/multi-host.md`
 * describes): virtlogd and libvirtd started when they are not running and
 * stopped after; transient domains that go when the test ends. Needs root.
 */

import { TINY_IMAGE } from "../lib/vm/guest/_tiny_image.ts";
import { ensureLinuxGuest, LINUX_READY } from "../lib/vm/guest/linux.ts";

export { LINUX_READY };

const URI = "qemu:///system";

async function run(program: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return { ok: output.success, out: text.decode(output.stdout) + text.decode(output.stderr) };
}

/** Whether libvirt can be driven here (root, libvirtd, the QMP proxy). */
export function canUseLibvirt(): boolean {
  try {
    return Deno.uid() === 0 && Deno.statSync("/usr/sbin/libvirtd").isFile &&
      Deno.statSync("/usr/bin/virt-qemu-qmp-proxy").isFile;
  } catch {
    return false;
  }
}

/** A running libvirtd and a world-readable directory for domain files. */
export interface TestLibvirt extends AsyncDisposable {
  /** The connection URI. */
  uri: string;
  /** Start a transient domain with a tiny guest (or the Linux guest with an agent); its name. */
  domain(kind: "tiny" | "linux"): Promise<string>;
}

/**
 * libvirtd in a mount namespace of its own whose `qemu.conf` runs QEMU as
 * root. Where `/dev/kvm` is root's only (as here), libvirt probes QEMU as
 * root, finds KVM, then judges the probe stale because its QEMU user could
 * not open `/dev/kvm` — and probes again on every call: `virsh create` took
 * 40 s. As root, the probe and the check agree; domains still run on TCG.
 */
async function startLibvirtd(): Promise<void> {
  const conf = await Deno.makeTempFile({ prefix: "corral-qemu-conf-" });
  try {
    const system = await Deno.readTextFile("/etc/libvirt/qemu.conf").catch(() => "");
    await Deno.writeTextFile(conf, `${system}\nuser = "root"\ngroup = "root"\n`);
    const mount = `mount --bind ${conf} /etc/libvirt/qemu.conf && exec libvirtd -d`;
    const started = await run("unshare", [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      mount,
    ]);
    if (!started.ok) throw new Error(`libvirtd did not start: ${started.out}`);
  } finally {
    await Deno.remove(conf); // The namespace holds its own reference to the file.
  }
}

/** Start libvirtd unless it runs; stop what was started, and every domain made, at dispose. */
export async function testLibvirt(): Promise<TestLibvirt> {
  const started: string[] = [];
  for (const dir of ["/var/log/libvirt/qemu", "/var/lib/libvirt/qemu", "/var/cache/libvirt/qemu"]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  // Running means answering: a stopped daemon can linger as a zombie that pgrep still finds.
  const alive = async (daemon: string) => (await run("pgrep", ["-x", "-r", "R,S,D", daemon])).ok;
  if (!await alive("virtlogd")) {
    await run("virtlogd", ["-d"]);
    started.push("virtlogd");
  }
  if (!(await run("virsh", ["-c", URI, "version"])).ok) {
    await startLibvirtd();
    started.push("libvirtd");
  }
  for (let i = 0; !(await run("virsh", ["-c", URI, "version"])).ok; i++) {
    if (i > 200) throw new Error("libvirtd does not answer");
    await new Promise((r) => setTimeout(r, 25)); // polling a daemon's start
  }
  // A stock libvirt runs QEMU as libvirt-qemu: the domain's files stay readable by it.
  const dir = await Deno.makeTempDir({ prefix: "corral-libvirt-" });
  await Deno.chmod(dir, 0o755);
  const domains: string[] = [];
  return {
    uri: URI,
    async domain(kind) {
      const name = `corral-t${Deno.pid}-${domains.length}`;
      const file = (path: string) => `${dir}/${path}`;
      let boot: string;
      let devices = "";
      if (kind === "tiny") {
        await Deno.writeFile(file("tiny.img"), TINY_IMAGE, { mode: 0o644 });
        boot = "<boot dev='fd'/>";
        devices = `<disk type='file' device='floppy'><driver name='qemu' type='raw'/>` +
          `<source file='${file("tiny.img")}'/><target dev='fda' bus='fdc'/><readonly/></disk>`;
      } else {
        const linux = await ensureLinuxGuest();
        await Deno.copyFile(linux.kernel, file("vmlinuz"));
        await Deno.copyFile(linux.initrd, file("initrd.gz"));
        await Deno.chmod(file("vmlinuz"), 0o644);
        await Deno.chmod(file("initrd.gz"), 0o644);
        boot = `<kernel>${file("vmlinuz")}</kernel><initrd>${file("initrd.gz")}</initrd>` +
          `<cmdline>console=ttyS0 quiet panic=-1</cmdline>`;
        devices = "<serial type='pty'/><channel type='unix'><target type='virtio' " +
          "name='org.qemu.guest_agent.0'/></channel>";
      }
      const memory = kind === "tiny" ? 16 : 256;
      const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>${memory}</memory>` +
        `<os><type arch='x86_64' machine='pc'>hvm</type>${boot}</os><on_crash>preserve</on_crash>` +
        `<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>${devices}` +
        `<panic model='isa'><address type='isa' iobase='0x505'/></panic>` +
        `<video><model type='none'/></video><memballoon model='none'/></devices></domain>`;
      await Deno.writeTextFile(file(`${name}.xml`), xml);
      const created = await run("virsh", ["-c", URI, "create", file(`${name}.xml`)]);
      if (!created.ok) throw new Error(`virsh create: ${created.out}`);
      domains.push(name);
      return name;
    },
    async [Symbol.asyncDispose]() {
      for (const name of domains) {
        // A libvirtd that went away cannot destroy its domain: then its QEMU goes by name.
        if (!(await run("virsh", ["-c", URI, "destroy", name])).ok) {
          await run("pkill", ["-KILL", "-f", `guest=${name},`]);
        }
      }
      for (const daemon of started.reverse()) await run("pkill", ["-x", daemon]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
