/**
 * Issue 20's data-safety rows inside a real guest file system: an ext4
 * disk that builtin:linux mounts at boot keeps what the guest wrote across
 * a live migration and in the clones of a warm template (caches dropped,
 * then the file system checked by e2fsck on the host), and a source killed
 * mid-migration is not said to run on.
 */

import assert from "node:assert/strict";
import { AgentError, Lab, launch, MigrationError, TimeoutError, type Vm } from "../mod.ts";
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

Deno.test("linux: agent files are binary-safe with a deadline; a command fails at once when the guest panics, and says its real deadline", async (t) => {
  await using vm = await launch({ name: "agent-files", guest: "builtin:linux" }, { timeout: BOOT });
  await vm.agent.waitReady({ timeout: BOOT });

  await t.step("bytes that are not UTF-8 come back as they were", async () => {
    const bytes = new Uint8Array([0x80, 0xff, 0x00, 0x41]);
    await vm.agent.writeFile("/tmp/bin", bytes);
    assert.deepEqual(await vm.agent.readBytes("/tmp/bin"), bytes);
    assert.equal(await sh(vm, "od -An -tx1 /tmp/bin"), " 80 ff 00 41\n");
  });

  await t.step(
    "a character across the 64 KiB chunk boundary, and a file of several chunks",
    async () => {
      const text = "a".repeat(65535) + "é" + "z".repeat(100_000);
      await vm.agent.writeFile("/tmp/text", text);
      assert.equal(await vm.agent.readFile("/tmp/text"), text);
    },
  );

  await t.step("a file that never ends times out", async () => {
    await rejectsWith(
      vm.agent.readFile("/dev/zero", { timeout: 1000 }),
      TimeoutError,
      /the transfer of \/dev\/zero did not finish within 1 s/,
    );
    assert.equal(await sh(vm, "echo still"), "still\n", "the agent answers after");
  });

  await t.step("a command past its deadline says that deadline, and can be killed", async () => {
    await rejectsWith(
      vm.agent.exec("sleep 31", { timeout: 1000 }),
      TimeoutError,
      /"sleep 31" did not exit within 1 s; it may still run in the guest/,
    );
    await rejectsWith(
      vm.agent.exec("sleep 32", { timeout: 1000, killOnTimeout: true }),
      TimeoutError,
      /"sleep 32" did not exit within 1 s; it was killed in the guest/,
    );
    assert.equal(
      await sh(vm, "ps | grep -c '[s]leep 3[12]' || true"),
      "1\n",
      "only the first runs",
    );
  });

  await t.step(
    "a console timeout shows the last lines with text and the unfinished one",
    async () => {
      // As an initramfs that cannot find its root: the cause, an empty line, a prompt without an end.
      await vm.console.send("echo ALERT-no-root; echo; printf 'initramfs-prompt> '; sleep 600\n");
      await vm.console.waitFor(/^initramfs-prompt> $/, { prompt: true, timeout: 30_000 });
      const error = await rejectsWith(
        vm.console.waitFor("never printed", { timeout: 100 }),
        TimeoutError,
        /last console line: "ALERT-no-root"/,
      );
      assert.match(error.message, /unfinished line: "initramfs-prompt> "/);
    },
  );

  await t.step("a command that panics the guest fails at once, naming the panic", async () => {
    await rejectsWith(
      vm.agent.exec("echo c > /proc/sysrq-trigger", { timeout: 120_000 }),
      AgentError,
      /cannot finish: the VM panicked/,
    );
  });
});
