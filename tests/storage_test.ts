/**
 * Live storage jobs (issue 25) on a real guest file system: an ext4 data
 * disk the guest mounted at boot is moved to a new file while the guest
 * writes (`block-move`), gets an external snapshot that takes the writes
 * while the image below stays as it was (`snapshot: { external }`), is
 * committed back (`commit`), and moves with the VM in live migrations in
 * between; afterwards e2fsck finds the moved image clean, with every file
 * the guest wrote.
 */

import assert from "node:assert/strict";
import { bootCommand } from "../lib/vm/guest/linux.ts";
import { corral, recipeFile } from "./_cli.ts";
import { canMakeHosts, onTestHost } from "./_hosts.ts";
import { checkBlocks, fillBlocks } from "./_blocks.ts";

const MOUNT = bootCommand("mkdir -p /srv && mount -t ext4 /dev/vda /srv");

/** Run a host tool; its standard output. */
async function tool(command: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(
    out.success,
    `${command} ${args.join(" ")}: ${text}${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
}

const write = (file: string) => `agent: { exec: "echo ${file} > /srv/${file} && sync" }`;

Deno.test("storage: an ext4 disk moved live, snapshotted externally, committed back and migrated in between keeps every file the guest wrote, its base image untouched; e2fsck finds it clean", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-storage-" });
  const base = `${dir}/ext4.img`;
  await Deno.writeFile(base, new Uint8Array(0));
  await Deno.truncate(base, 64 * 2 ** 20);
  await tool("mkfs.ext4", "-q", "-F", base);
  const baseSum = await tool("md5sum", base);
  const moved = `${dir}/moved.qcow2`;
  const file = await recipeFile(`recipe: 1
name: storage
vms:
  s: { guest: builtin:linux, append: "${MOUNT}", disks: [{ name: data, base: ${base} }] }
defaults: { timeout: 60s }
steps:
  - { name: booted, wait-agent: {} }
  - { name: before the move, ${write("one")} }
  - { name: moved, block-move: { disk: data, to: ${moved} } }
  - { name: after the move, ${write("two")} }
  - { name: migrated, migrate: {} }
  - { name: snapshot, snapshot: { external: pre, disk: data } }
  - { name: under the snapshot, ${write("three")} }
  - { name: second snapshot refused, snapshot: { external: again, disk: data }, continue-on-error: true }
  - { name: committed, commit: { disk: data } }
  - { name: after the commit, ${write("four")} }
  - { name: migrated again, migrate: {} }
  - name: all there, from disk
    agent: { exec: "sync; echo 3 > /proc/sys/vm/drop_caches; cat /srv/one /srv/two /srv/three /srv/four", expect: "one\\ntwo\\nthree\\nfour" }
  - { name: nothing to commit, commit: { disk: data }, continue-on-error: true }
  - { name: unmounted, agent: { exec: "umount /srv" } }
`);
  try {
    const run = await corral(["run", file, "--json"]);
    assert.ok(run.out.startsWith("{"), run.out + run.err);
    const journal = JSON.parse(run.out);
    const step = (name: string) =>
      journal.steps.find((s: { name: string }) => s.name === name).targets[0];
    assert.equal(journal.verdict, "pass", run.err);
    assert.equal(step("moved").output.to, moved);
    assert.equal(step("snapshot").output.to, `${dir}/data-pre.qcow2`);
    assert.equal(step("committed").output.to, moved);
    assert.match(step("second snapshot refused").error, /has an external snapshot already/);
    assert.match(step("nothing to commit").error, /has no external snapshot to commit/);
    // The base image was never written: the disk was an overlay of it, then a copy.
    assert.equal(await tool("md5sum", base), baseSum);
    const raw = `${dir}/final.raw`;
    await tool("qemu-img", "convert", "-O", "raw", moved, raw);
    await tool("e2fsck", "-fn", raw);
    for (const name of ["one", "two", "three", "four"]) {
      assert.equal(await tool("debugfs", "-R", `cat /${name}`, raw), `${name}\n`);
    }
  } finally {
    await Deno.remove(file);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "storage: on a VM of an SSH host, a disk moved, snapshotted and committed back keeps every block the guest wrote, also after a migration on that host",
  // What this adds is the SSH host (its files, its paths); the QEMU jobs run on every build in the
  // test above: .ci/run's pass with the next QEMU build does not repeat it (CORRAL_CI_REPEAT).
  ignore: !canMakeHosts() || Deno.env.get("CORRAL_CI_REPEAT") === "1",
  async fn() {
    await onTestHost("remote-storage", (dir) =>
      `\
  - { name: first, agent: { exec: "${fillBlocks("first", 40)}" } }
  - { name: moved, block-move: { disk: data, to: ${dir}/moved.qcow2 } }
  - { name: second, agent: { exec: "${fillBlocks("second", 40)}" } }
  - { name: snapshot, snapshot: { external: pre, disk: data } }
  - { name: third, agent: { exec: "${fillBlocks("third", 40)}" } }
  - { name: committed, commit: { disk: data } }
  - { name: migrated, migrate: {} }
  - name: every block
    agent:
      exec: |-
        ${checkBlocks("third", 40)}
  - { name: relative refused, block-move: { disk: data, to: here.qcow2 }, continue-on-error: true }
`, (step, dir) => {
      assert.equal((step("every block").output as { stdout: string }).stdout, "checked\n");
      assert.equal((step("snapshot").output as { to: string }).to, `${dir}/data-pre.qcow2`);
      assert.match(step("relative refused").error!, /absolute path on host 'h1'/);
    });
  },
});
