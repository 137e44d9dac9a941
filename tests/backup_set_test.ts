/**
 * Backups that last (issue 25): a disk file of the user's (`disks: [{ file
 * }]`) backed up into a set folder — full, then incremental — and, in a
 * later corral run (another process, the VM started again), incremental
 * again: its dirty bitmap was kept in the qcow2 file. `restore` rebuilds
 * the latest point into an image `qemu-img compare` finds identical to the
 * disk. A chain that cannot be trusted (a backup file missing, a disk
 * written without its bitmap) is answered with a full backup, saying why.
 */

import assert from "node:assert/strict";
import { backupSet, launch, restoreBackup } from "../mod.ts";
import { canMakeHosts, onTestHost } from "./_hosts.ts";
import { corral, recipeFile } from "./_cli.ts";

async function tool(command: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, out: text };
}

Deno.test("backup sets: full then incremental, incremental again in a later run from the bitmap kept in the disk file, restored identical; a missing backup or a disk written without its bitmap gets a full backup, saying why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-backup-set-" });
  const disk = `${dir}/data.qcow2`;
  const set = `${dir}/set`;
  const spec = {
    name: "db",
    guest: "builtin:linux" as const,
    disks: [{ name: "data", file: disk, size: "64M" }],
  };
  try {
    {
      await using vm = await launch(spec);
      await vm.agent.waitReady({ timeout: 120_000 });
      const write = (mib: number, at: number) =>
        vm.agent.exec(`dd if=/dev/urandom of=/dev/vda bs=1M count=${mib} seek=${at} conv=fsync`);
      await write(4, 0);
      const first = await backupSet(vm, { dir: set });
      assert.deepEqual([first.name, first.sync, first.note], [
        "0001",
        "full",
        "full, not incremental: the set has no backup yet",
      ]);
      await write(10, 16);
      const second = await backupSet(vm, { dir: set });
      assert.deepEqual([second.name, second.sync, second.base], ["0002", "incremental", "0001"]);
      // 10 MiB written: the incremental copies about that, the full one the whole 64 MiB disk.
      assert.ok(second.bytes >= 10 * 2 ** 20 && second.bytes < 20 * 2 ** 20, `${second.bytes}`);
      assert.equal(first.bytes, 64 * 2 ** 20);
    }
    // A later run: a new corral process starts the VM again on the same disk file.
    const later = await recipeFile(`recipe: 1
name: later
vms:
  db: { guest: builtin:linux, disks: [{ name: data, file: ${disk} }] }
steps:
  - { name: up, wait-agent: {} }
  - { name: writes, agent: { exec: "dd if=/dev/urandom of=/dev/vda bs=1M count=2 seek=40 conv=fsync" } }
  - { name: backed up, backup: { to: ${set}, disk: data, sync: incremental } }
`);
    const run = await corral(["run", later, "--json"]);
    await Deno.remove(later);
    assert.equal(run.code, 0, run.out + run.err);
    const third = JSON.parse(run.out).steps[2].targets[0].output;
    assert.deepEqual([third.name, third.sync, third.base, third.note], [
      "0003",
      "incremental",
      "0002",
      undefined,
    ]);

    const restored = await restoreBackup({ from: set, to: `${dir}/restored.qcow2` });
    assert.equal(restored.name, "0003");
    const compare = await tool("qemu-img", "compare", disk, `${dir}/restored.qcow2`);
    assert.equal(compare.code, 0, compare.out);

    // A backup file gone: the next one is full.
    await Deno.remove(`${set}/0002.qcow2`);
    {
      await using vm = await launch(spec);
      const full = await backupSet(vm, { dir: set, timeout: 60_000 });
      assert.deepEqual([full.name, full.sync, full.note], [
        "0004",
        "full",
        "full, not incremental: 0002.qcow2 of the chain is missing",
      ]);
    }
    // The disk written without its bitmap (removed outside QEMU): full again.
    assert.equal((await tool("qemu-img", "bitmap", "--remove", disk, "corral-set")).code, 0);
    {
      await using vm = await launch(spec);
      const full = await backupSet(vm, { dir: set, timeout: 60_000 });
      assert.equal(full.sync, "full");
      assert.match(full.note!, /the disk has no bitmap corral-set: it was written without it/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "backup sets on a VM of an SSH host are kept on that host: full, then incremental, and restored there",
  // What this adds is the SSH host (its files, its paths); the QEMU jobs run on every build in the
  // test above: .ci/run's pass with the next QEMU build does not repeat it (CORRAL_CI_REPEAT).
  ignore: !canMakeHosts() || Deno.env.get("CORRAL_CI_REPEAT") === "1",
  async fn() {
    await onTestHost("remote-backups", (dir) =>
      `\
  - { name: first, backup: { to: ${dir}/set, disk: data } }
  - { name: writes, agent: { exec: "dd if=/dev/urandom of=/dev/vda bs=1M count=2 conv=fsync" } }
  - { name: second, backup: { to: ${dir}/set, disk: data } }
  - { name: restored, restore: { from: ${dir}/set, to: ${dir}/restored.qcow2 } }
`, async (step, dir) => {
      const output = (name: string) => step(name).output as Record<string, unknown>;
      assert.deepEqual([output("first").sync, output("second").sync], ["full", "incremental"]);
      assert.equal(output("restored").name, "0002");
      const chain = JSON.parse(await Deno.readTextFile(`${dir}/set/chain.json`));
      assert.deepEqual(chain.points.map((p: { file: string }) => p.file), [
        "0001.qcow2",
        "0002.qcow2",
      ]);
      assert.ok((await Deno.stat(`${dir}/restored.qcow2`)).isFile);
    });
  },
});
