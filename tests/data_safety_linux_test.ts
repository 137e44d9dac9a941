/**
 * Issue 20's data-safety rows inside a real guest file system: an ext4
 * disk that builtin:linux mounts at boot keeps what the guest wrote across
 * a live migration and in the clones of a warm template (caches dropped,
 * then the file system checked by e2fsck on the host), and a source killed
 * mid-migration is not said to run on.
 */

import assert from "node:assert/strict";
import { Lab, launch, MigrationError, type Vm } from "../mod.ts";
import { bootCommand } from "../lib/vm/guest/linux.ts";
import { rejectsWith } from "./_assert.ts";

const BOOT = 300_000;

/** A 64 MiB ext4 image made on the host (the base of the guests' data disks). */
async function ext4Image(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "corral-ext4-" });
  const path = `${dir}/data.img`;
  await Deno.writeFile(path, new Uint8Array(0));
  await Deno.truncate(path, 64 * 1024 * 1024);
  const mkfs = await new Deno.Command("mkfs.ext4", { args: ["-q", "-F", path], stderr: "piped" })
    .output();
  assert.ok(mkfs.success, new TextDecoder().decode(mkfs.stderr));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Mount the data disk at boot, as a real system's fstab does, and write to it. */
const MOUNT = bootCommand(
  "mkdir -p /srv && mount -t ext4 /dev/vda /srv && echo written-at-boot > /srv/boot && sync",
);

async function sh(vm: Vm, command: string): Promise<string> {
  const result = await vm.agent.exec(command, { timeout: 60_000 });
  assert.equal(result.exitCode, 0, `${vm.name}: ${command}: ${result.stderr}`);
  return result.stdout;
}

/** Read what the guest wrote from disk, not from its caches. */
async function fromDisk(vm: Vm, file: string): Promise<string> {
  return await sh(vm, `sync && echo 3 > /proc/sys/vm/drop_caches && cat ${file}`);
}

/** Unmount the data disk in the guest, then e2fsck it on the host: 0 errors. */
async function fsckClean(vm: Vm): Promise<void> {
  await sh(vm, "umount /srv");
  assert.equal(await sh(vm, "dmesg | grep -c 'EXT4-fs error' || true"), "0\n");
  const raw = await Deno.makeTempFile({ prefix: "corral-fsck-" });
  try {
    const convert = await new Deno.Command("qemu-img", {
      args: ["convert", "-U", "-O", "raw", `${vm.dir}/disk0.qcow2`, raw],
    }).output();
    assert.ok(convert.success);
    const fsck = await new Deno.Command("e2fsck", { args: ["-fn", raw], stdout: "piped" }).output();
    assert.equal(fsck.code, 0, `${vm.name}: ${new TextDecoder().decode(fsck.stdout)}`);
  } finally {
    await Deno.remove(raw);
  }
}

Deno.test("linux: an ext4 disk keeps what the guest wrote across live migrations; a source killed mid-migration does not run on", async (t) => {
  await using image = await ext4Image();
  await using vm = await launch(
    { name: "ext4-mover", guest: "builtin:linux", disks: [{ base: image.path }], append: MOUNT },
    { timeout: BOOT },
  );
  await vm.agent.waitReady({ timeout: BOOT });

  await t.step("written before the move, read from disk after it; fsck clean", async () => {
    await sh(vm, "echo before-the-move > /srv/data && sync");
    await vm.migrate();
    assert.equal(await fromDisk(vm, "/srv/data"), "before-the-move\n");
    assert.equal(await fromDisk(vm, "/srv/boot"), "written-at-boot\n");
    await sh(vm, "echo after-the-move > /srv/more && sync");
    await vm.migrate();
    assert.equal(await fromDisk(vm, "/srv/more"), "after-the-move\n");
    await fsckClean(vm);
  });

  await t.step("the source killed mid-migration: the error does not say it runs on", async () => {
    // Random bytes dirtied faster than 1 MiB/s carries them: the migration stays active.
    await sh(
      vm,
      "(while true; do head -c 4M /dev/urandom > /dev/shm/dirty; done) </dev/null >/dev/null 2>&1 &",
    );
    const since = vm.mark();
    const moving = vm.migrate({ maxBandwidth: 1024 * 1024, timeout: 120_000 });
    await vm.waitFor("MIGRATION", { since, match: (data) => data.status === "active" });
    await vm.kill();
    const error = await rejectsWith(moving, MigrationError, /the source QEMU no longer answers/);
    assert.doesNotMatch(error.message, /runs on/);
  });
});

Deno.test("linux: template: warm clones continue the template's disk: what it wrote at boot is there, and fsck finds 0 errors", async () => {
  await using image = await ext4Image();
  const spec = {
    guest: "builtin:linux",
    template: "warm" as const,
    disks: [{ base: image.path }],
    append: MOUNT,
  };
  await using lab = await Lab.launch([{ name: "tc1", ...spec }, { name: "tc2", ...spec }], {
    timeout: BOOT,
  });
  for (const vm of lab.names.map((name) => lab.vm(name))) {
    // The clone's memory has the file system mounted as the template left it; its disk agrees.
    assert.equal(await fromDisk(vm, "/srv/boot"), "written-at-boot\n");
    await sh(vm, `echo ${vm.name} > /srv/own && sync`);
    assert.equal(await fromDisk(vm, "/srv/own"), `${vm.name}\n`);
    await fsckClean(vm);
  }
});
