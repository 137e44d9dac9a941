/**
 * `corral rehearse` (issue 26): a rolling maintenance recipe for two Linux
 * VMs started outside corral (`attach:`) runs on their twins; the originals
 * run on, stopped only for the clone, and afterwards hold what they held —
 * their data disk, its file, no overlay left beside it. A rehearsal that
 * fails is not run for real; with `--then-run` one that passes is. Ctrl-C
 * during a rehearsal closes the twins and gives the originals their disks
 * back.
 */

import assert from "node:assert/strict";
import { Vm } from "../mod.ts";
import { ensureLinuxGuest } from "../lib/vm/guest/linux.ts";
import { checkBlocks, fillBlocks } from "./_blocks.ts";
import { corral, startCorral } from "./_cli.ts";
import { QEMU_BINARY, untilListening } from "./_qemu.ts";

const BLOCKS = 8;
/** The QEMUs the test started: each is killed at its end, whatever happened. */
const started: Deno.ChildProcess[] = [];

/** A Linux VM started as an operator's would be: its own command line, sockets and disk file. */
async function outside(dir: string, name: string) {
  const guest = await ensureLinuxGuest();
  const at = (suffix: string) => `${dir}/${name}${suffix}`;
  const n = name.at(-1);
  await new Deno.Command("qemu-img", {
    args: ["create", "-q", "-f", "qcow2", at(".qcow2"), "64M"],
  }).output();
  const child = new Deno.Command(QEMU_BINARY, {
    args: [
      ...["-machine", "pc", "-m", "256", "-nodefaults", "-display", "none", "-name", name],
      ...[
        "-kernel",
        guest.kernel,
        "-initrd",
        guest.initrd,
        "-append",
        `console=ttyS0 quiet panic=-1 corral.net=eth0=10.9.0.${n}/24`,
      ],
      ...["-drive", `file=${at(".qcow2")},if=virtio,id=data,format=qcow2`],
      // A lab NIC (eth0) on a socket nothing joins, and a user-mode one.
      ...["-netdev", `stream,id=lan,server=on,addr.type=unix,addr.path=${at("-lan.sock")}`],
      ...["-device", `virtio-net-pci,netdev=lan,mac=52:54:00:00:09:0${n}`],
      ...["-netdev", "user,id=n0,restrict=on", "-device", "virtio-net-pci,netdev=n0"],
      ...["-device", "virtio-serial-pci"],
      ...["-chardev", `socket,id=qga0,path=${at("-qga.sock")},server=on,wait=off`],
      ...["-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"],
      ...["-serial", `file:${at(".log")}`],
      ...["-qmp", `unix:${at(".qmp")},server=on,wait=off`],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  started.push(child);
  let exited = false;
  child.status.then(() => exited = true);
  await untilListening({ socket: at(".qmp") }, () => exited);
  return { name, qmp: at(".qmp"), agent: at("-qga.sock"), disk: at(".qcow2") };
}

type Outside = Awaited<ReturnType<typeof outside>>;

/** Attach to an outside VM for a moment (its QMP socket takes one client at a time). */
async function attached<T>(vm: Outside, use: (connected: Vm) => Promise<T>): Promise<T> {
  const connected = await Vm.connect(`unix:${vm.qmp}`, {
    name: vm.name,
    agent: `unix:${vm.agent}`,
    timeout: 30_000,
  });
  try {
    return await use(connected);
  } finally {
    await connected.close();
  }
}

const exec = async (vm: Vm, command: string) =>
  (await vm.agent.exec(command, { timeout: 60_000 })).stdout;

/** A recipe for the two outside VMs: their agents answer, then `steps`. */
const recipe = (steps: string) =>
  `recipe: 1
name: rolling-release
description: One VM at a time, out of service, its data disk given the new release, back.
vars: { qmp1: "", qga1: "", qmp2: "", qga2: "" }
vms:
  web1: { attach: "\${{ vars.qmp1 }}", agent: "\${{ vars.qga1 }}" }
  web2: { attach: "\${{ vars.qmp2 }}", agent: "\${{ vars.qga2 }}" }
defaults: { timeout: 60s }
steps:
  - { name: agents answer, wait-agent: {} }
${steps}`;

/** The rolling maintenance: the new release written to each data disk in turn, then `last` checked. */
const roll = (last: string) =>
  `  - name: roll
    serial: 1
    block:
      - { name: out of service, pause: {} }
      - { name: back in service, resume: {} }
      - { name: the new release, agent: { exec: ${JSON.stringify(fillBlocks("after", BLOCKS))} } }
      - name: the release is there
        agent: { exec: ${JSON.stringify(checkBlocks(last, BLOCKS))}, expect: "/^checked\\n$/" }
`;

/** Two outside VMs with `before` on their data disks, and how to check they are as they were. */
interface Outsiders {
  dir: string;
  vms: Outside[];
  /** The `--var`s that name their sockets. */
  vars: string[];
  /** Write a recipe file; its path. */
  write(name: string, text: string): Promise<string>;
  /** Running, each disk on its own file, no job, nothing beside the disks, `before` intact. */
  untouched(): Promise<void>;
}

async function outsiders(dir: string): Promise<Outsiders> {
  const vms = await Promise.all([outside(dir, "web1"), outside(dir, "web2")]);
  // The VMs' disks, sockets and logs (the recipes and reports beside them aside).
  const files = () =>
    [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^web\d[.-]/.test(n)).sort();
  for (const vm of vms) {
    await attached(vm, async (connected) => {
      await connected.agent.waitReady({ timeout: 120_000 });
      await exec(connected, fillBlocks("before", BLOCKS));
    });
  }
  const before = files();
  return {
    dir,
    vms,
    vars: vms.flatMap((vm, i) => [
      ...["--var", `qmp${i + 1}=unix:${vm.qmp}`],
      ...["--var", `qga${i + 1}=unix:${vm.agent}`],
    ]),
    async write(name, text) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
      return `${dir}/${name}`;
    },
    async untouched() {
      assert.deepEqual(files(), before, "nothing left beside the disks");
      for (const vm of vms) {
        await attached(vm, async (connected) => {
          assert.equal((await connected.status()).status, "running");
          const [data] = await connected.execute("query-block");
          assert.equal(data!.inserted!.file, vm.disk, "the disk runs on its own file again");
          assert.deepEqual(await connected.execute("query-block-jobs"), []);
          assert.equal(await exec(connected, checkBlocks("before", BLOCKS)), "checked\n");
        });
      }
    },
  };
}

/** A rehearsal that fails is not run for real; one that passes says what each clone cost. */
async function failThenPass({ vars, write, untouched, dir }: Outsiders): Promise<void> {
  const wrong = await write("wrong.yaml", recipe(roll("before")));
  const failing = await corral(["rehearse", wrong, ...vars, "--then-run"]);
  assert.equal(failing.code, 1, failing.out + failing.err);
  assert.match(failing.out, /the rehearsal did not pass \(fail\): not run for real/, failing.err);
  await untouched();

  const release = await write("release.yaml", recipe(roll("after")));
  const rehearsed = await corral(["rehearse", release, ...vars, "--report", `${dir}/r`]);
  assert.equal(rehearsed.code, 0, rehearsed.out + rehearsed.err);
  assert.match(rehearsed.out, /web1: twin up; the original stood still \d+ ms/);
  assert.match(
    rehearsed.out,
    /the originals stood still for their clones: web1 \d+ ms, web2 \d+ ms/,
  );
  assert.match(rehearsed.out, /PASS/);
  await Deno.remove(`${dir}/r`, { recursive: true });
  await untouched();
}

/** The twins reach each other on their private switch; the originals' lab NICs lead nowhere. */
async function privateNetwork({ vars, write, untouched, vms }: Outsiders): Promise<void> {
  const ping = "ping -c 1 -W 3 10.9.0.2";
  const net = await write(
    "net.yaml",
    recipe(`  - { name: twins talk, on: web1, agent: { exec: "${ping}" } }\n`),
  );
  const talk = await corral(["rehearse", net, ...vars]);
  assert.equal(talk.code, 0, talk.out + talk.err);
  await attached(vms[0]!, async (connected) => {
    const alone = await connected.agent.exec(ping, { timeout: 30_000 });
    assert.notEqual(alone.exitCode, 0, "the original reaches no one on its lab NIC");
  });
  await untouched();
}

/** Ctrl-C while the recipe runs on the twins: they are closed, the originals given back. */
async function interrupted({ vars, write, untouched, dir }: Outsiders): Promise<void> {
  const hold = "  - { name: hold, on: web1, sleep: 1h, timeout: 2h }\n";
  const held = await write("held.yaml", recipe(hold + roll("after")));
  await Deno.mkdir(`${dir}/rt`, { mode: 0o700 });
  const run = startCorral(["rehearse", held, ...vars], `${dir}/rt`);
  await run.until("▶ hold");
  Deno.kill(-run.child.pid, "SIGINT");
  assert.equal((await run.child.status).code, 130);
  assert.match(await run.rest(), /twins closed; every original runs on its own disks again/);
  assert.deepEqual([...Deno.readDirSync(`${dir}/rt`)], [], "no twin's folder is left");
  await untouched();
}

/** With --then-run, a rehearsal that passes runs on the originals: they hold the new release. */
async function forReal({ vars, dir, vms }: Outsiders): Promise<void> {
  const real = await corral(["rehearse", `${dir}/release.yaml`, ...vars, "--then-run"]);
  assert.equal(real.code, 0, real.out + real.err);
  assert.match(real.out, /the rehearsal passed: running it on the originals/);
  for (const vm of vms) {
    await attached(vm, async (connected) => {
      assert.equal(await exec(connected, checkBlocks("after", BLOCKS)), "checked\n");
    });
  }
}

Deno.test({
  name:
    "rehearse: a rolling maintenance on twins leaves the outside VMs as they were; --then-run runs it for real after a pass",
  // The clone and its commit are QEMU's work: it runs on both builds.
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "corral-rehearse-" });
    try {
      const lab = await outsiders(dir);
      await failThenPass(lab);
      await privateNetwork(lab);
      await interrupted(lab);
      await forReal(lab);
    } finally {
      for (const child of started.splice(0)) {
        child.kill("SIGKILL");
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("rehearse: refuses a recipe with nothing to clone, before anything starts", async () => {
  const none = await corral(["rehearse", "recipes/crash-drill.yaml"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /attaches no VM: rehearse is for VMs corral did not start/);
  const remote = await corral([
    "rehearse",
    "recipes/attach.yaml",
    "--var",
    "a=tcp:127.0.0.1:1",
  ]);
  assert.equal(remote.code, 2);
  assert.match(
    remote.err,
    /cannot clone outside-a \(attach: tcp:127\.0\.0\.1:1\): rehearse clones QEMUs on this machine/,
  );
  assert.deepEqual([...none.qemuStarts, ...remote.qemuStarts], []);
});
