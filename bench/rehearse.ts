/**
 * `deno task bench-rehearse`: what a rehearsal costs the VMs it clones. A
 * Linux VM started outside corral (its memory partly filled with random
 * data, a 1 GiB data disk full) is rehearsed with a one-step recipe, three
 * times per memory size: how long the original stood still for its clone,
 * and how long the whole rehearsal took (clone, run on the twin, the
 * overlay committed back).
 *
 * @module
 */

import { parseRecipe, rehearseRecipe, Vm } from "../mod.ts";
import { ensureLinuxGuest } from "../lib/vm/guest/linux.ts";

const QEMU = Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
const ROUNDS = 3;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function run(program: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command(program, { args, stdout: "null" }).output();
  if (!success) throw new Error(`${program}: ${new TextDecoder().decode(stderr)}`);
}

/** One VM as an operator would start it, ready (its agent answers) with `dirty` MiB of data in memory. */
async function outside(dir: string, memory: number, dirty: number) {
  const guest = await ensureLinuxGuest();
  await run("qemu-img", ["create", "-q", "-f", "qcow2", `${dir}/data.qcow2`, "1G"]);
  await run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 0 1G", `${dir}/data.qcow2`]);
  const child = new Deno.Command(QEMU, {
    args: [
      ...["-machine", "pc", "-m", String(memory), "-nodefaults", "-display", "none"],
      ...["-kernel", guest.kernel, "-initrd", guest.initrd, "-append", "console=ttyS0 quiet"],
      ...["-drive", `file=${dir}/data.qcow2,if=virtio,id=data`, "-device", "virtio-serial-pci"],
      ...["-chardev", `socket,id=qga0,path=${dir}/qga.sock,server=on,wait=off`],
      ...["-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"],
      ...[
        "-qmp",
        `unix:${dir}/qmp.sock,server=on,wait=off`,
        "-daemonize",
        "-pidfile",
        `${dir}/pid`,
      ],
    ],
  });
  if (!(await child.output()).success) throw new Error("QEMU did not start");
  const pid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
  try {
    await ready(dir, dirty);
  } catch (error) {
    Deno.kill(pid, "SIGKILL"); // daemonized: nothing else stops it
    throw error;
  }
  return pid;
}

/** Its agent answers, with `dirty` MiB of random data in its memory. */
async function ready(dir: string, dirty: number): Promise<void> {
  const vm = await Vm.connect(`unix:${dir}/qmp.sock`, {
    name: "vm",
    agent: `unix:${dir}/qga.sock`,
  });
  try {
    await vm.agent.waitReady({ timeout: 120_000 });
    const fill = `dd if=/dev/urandom of=/fill bs=1M count=${dirty}`;
    const filled = await vm.agent.exec(fill, { timeout: 300_000 });
    if (filled.exitCode !== 0) throw new Error(`filling the memory: ${filled.stderr}`);
  } finally {
    await vm.close();
  }
}

const recipe = (dir: string) =>
  parseRecipe(
    `recipe: 1
name: one-step
vms: { vm: { attach: "unix:${dir}/qmp.sock", agent: "unix:${dir}/qga.sock" } }
steps:
  - { name: the twin answers, agent: { exec: "test -s /fill" } }
`,
    "one-step.yaml",
  );

console.log(
  `${QEMU}: a Linux VM started outside corral, a 1 GiB data disk full, ${ROUNDS} rehearsals each`,
);
for (const [memory, dirty] of [[256, 64], [1024, 400]] as const) {
  const dir = await Deno.makeTempDir({ prefix: "corral-bench-rehearse-" });
  const pid = await outside(dir, memory, dirty).catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  try {
    const pauses: number[] = [];
    const totals: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const began = performance.now();
      const result = await rehearseRecipe(recipe(dir), { seed: 1 });
      if (result.rehearsal.verdict !== "pass") throw new Error(result.rehearsal.reason);
      totals.push(performance.now() - began);
      pauses.push(result.pauses.vm!);
    }
    console.log(
      `  ${memory} MiB of memory (${dirty} MiB filled): the original stood still ${
        median(pauses)
      } ms ` +
        `(${Math.min(...pauses)}–${Math.max(...pauses)}); a rehearsal took ${
          (median(totals) / 1000).toFixed(2)
        } s`,
    );
  } finally {
    Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}
