/**
 * Maintenance across QEMU instances (issue 14, the API part): live
 * migration between two launched VMs, jobs whose error QEMU reports only
 * in query-jobs, and device_del that waits for DEVICE_DELETED.
 */

import assert from "node:assert/strict";
import { JobError, Lab, launch, MigrationError } from "../mod.ts";
import { rejectsWith } from "./_assert.ts";
import { runtimeBase } from "../lib/_runtime_dir.ts";

Deno.test("migrate: the running guest moves to the destination, with figures; the source ends in postmigrate", async () => {
  await using source = await launch({ name: "mig-src" });
  await source.console.waitFor("READY");
  await using target = await launch({ name: "mig-dst" }, { incoming: true });
  assert.equal((await target.status()).status, "inmigrate");
  const result = await source.migrateTo(target);
  assert.ok(result.totalTimeMs > 0 && result.bytes > 0, JSON.stringify(result));
  assert.equal(result.postcopy, false);
  assert.equal((await source.status()).status, "postmigrate");
  assert.equal((await target.status()).status, "running");
  // The guest really moved: it answers on the destination's console and panics there.
  await target.console.exec("panic");
  assert.deepEqual((await target.waitFor("GUEST_PANICKED")).data, { action: "pause" });
});

Deno.test("migrate: a destination that is not waiting fails; the migration is cancelled and the source runs on", async () => {
  await using source = await launch({ name: "mig-src2", guest: "none" });
  await using target = await launch({ name: "mig-dst2", guest: "none" }); // not incoming
  await rejectsWith(
    source.migrateTo(target, { timeout: 10_000 }),
    MigrationError,
    /vm 'mig-dst2'|vm 'mig-src2'/,
  );
  assert.equal((await source.status()).running, true);
});

Deno.test("jobs: a job whose error only query-jobs tells is a JobError; jobs are dismissed", async () => {
  await using vm = await launch({ name: "jobs", guest: "none" });
  // blockdev-create of a file on a path that cannot exist: QEMU answers {} and the job fails.
  await rejectsWith(
    vm.runJob("blockdev-create", {
      options: { driver: "file", filename: "/nonexistent/dir/disk.img", size: 1048576 },
    }),
    JobError,
    /vm 'jobs': job corral-\d+ \(blockdev-create\) failed: .*nonexistent/,
  );
  const ok = await vm.runJob("blockdev-create", {
    options: { driver: "file", filename: `${vm.dir}/new.img`, size: 1048576 },
  });
  assert.equal(ok.status, "concluded");
  assert.deepEqual(await vm.executeUntyped("query-jobs"), [], "jobs are dismissed");
});

Deno.test("hot-plug: deviceDel resolves on DEVICE_DELETED for that device", async () => {
  await using vm = await launch({ name: "plug", args: ["-device", "virtio-serial-pci,id=vs"] });
  await vm.executeUntyped("device_add", {
    driver: "virtserialport",
    id: "port1",
    bus: "vs.0",
    name: "org.example.1",
  });
  await vm.deviceDel("port1");
  const deleted = vm.history("DEVICE_DELETED").map((e) => (e.data as { device?: string }).device);
  assert.ok(deleted.includes("port1"), JSON.stringify(deleted));
  await rejectsWith(vm.deviceDel("port1"), Error, /port1/);
});

Deno.test("vm.migrate: the VM moves to a new QEMU and stays one VM: name, journal, waits, console", async () => {
  await using vm = await launch({ name: "mover" });
  await vm.console.waitFor("READY");
  const { pid: oldPid, dir: oldDir } = vm;
  // A wait made before the move is satisfied by the new QEMU's event.
  const panicked = vm.waitFor("GUEST_PANICKED", { since: vm.mark(), timeout: 60_000 });
  const moved = await vm.migrate();
  assert.deepEqual([moved.from, moved.to, vm.instance], ["mover", "mover-m1", "mover-m1"]);
  assert.equal(vm.name, "mover");
  assert.equal(moved.pid, vm.pid);
  assert.notEqual(vm.pid, oldPid);
  assert.ok(moved.downtimeMs >= 0 && moved.totalTimeMs > 0, JSON.stringify(moved));
  assert.equal((await vm.status()).status, "running");
  // The old QEMU is gone with its directory; its console log moved along.
  await rejectsWith(Deno.stat(oldDir!), Deno.errors.NotFound);
  assert.equal(vm.consoleLogs.length, 2);
  assert.match(await Deno.readTextFile(vm.consoleLogs[0]!), /READY/);
  // The journal is one record: the source's MIGRATION events, then the destination's RESUME.
  const names = vm.history().map((e) => e.event);
  assert.ok(names.includes("MIGRATION") && names.lastIndexOf("RESUME") > names.indexOf("STOP"));
  await vm.console.exec("panic");
  assert.deepEqual((await panicked).data, { action: "pause" });
  // It moves on again.
  await vm.reset();
  assert.equal((await vm.migrate()).to, "mover-m2");
});

Deno.test("vm.migrate: a destination whose devices differ fails in QEMU's words; the VM runs on where it was", async () => {
  await using vm = await launch({ name: "mismatch" });
  await vm.console.waitFor("READY");
  const pid = vm.pid;
  const error = await rejectsWith(
    vm.migrate({ changes: { memory: 32 }, timeout: 20_000 }),
    MigrationError,
    /vm 'mismatch'/,
  );
  assert.match(error.message, /the destination says: .*mismatch/i);
  assert.equal(vm.pid, pid);
  assert.equal(vm.instance, "mismatch");
  assert.equal((await vm.status()).running, true);
  await vm.console.exec("panic");
  await vm.waitFor("GUEST_PANICKED");
});

Deno.test("vm.migrate: a hot-plugged device is on the destination too (devices must match)", async () => {
  await using vm = await launch({ name: "plugmove", args: ["-device", "virtio-serial-pci,id=vs"] });
  await vm.console.waitFor("READY");
  const port = { driver: "virtserialport", id: "p1", bus: "vs.0", name: "org.example.moved" };
  await vm.deviceAdd(port);
  await vm.migrate();
  assert.equal(
    await vm.executeUntyped("qom-get", { path: "/machine/peripheral/p1", property: "name" }),
    "org.example.moved",
  );
  // Removed, it stays removed on the next move.
  await vm.deviceDel("p1");
  await vm.migrate();
  const peripherals = await vm.executeUntyped("qom-list", { path: "/machine/peripheral" }) as {
    name: string;
  }[];
  assert.ok(!peripherals.some((p) => p.name === "p1"));
});

Deno.test("snapshots: a duplicate tag is a JobError; a load brings the disk back; backups full and incremental", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using vm = await launch({ name: "snapdisk", disks: [{ size: "16M" }] });
    await vm.console.waitFor("READY");
    const io = (command: string) => vm.hmp(`qemu-io disk0 "${command}"`);
    const saved = await vm.saveSnapshot("before");
    assert.equal(saved.frozen, false, "no agent: nothing to freeze");
    await rejectsWith(vm.saveSnapshot("before"), JobError, /Snapshot 'before' already exists/);
    await io("write -P 0xab 0 64k");
    assert.equal(await io("read -P 0xab 0 64k"), "");
    await vm.loadSnapshot("before");
    assert.equal(await io("read -P 0 0 64k"), "", "the write is rolled back");
    assert.equal((await vm.status()).status, "running");
    await rejectsWith(vm.loadSnapshot("nope"), JobError, /'nope' does not exist/);
    await vm.deleteSnapshot("before");
    await rejectsWith(vm.saveSnapshot("x", { freeze: true }), Error, /no guest agent/);

    await rejectsWith(vm.backup({ to: `${dir}/i.qcow2`, sync: "incremental" }), Error, /full/);
    const full = await vm.backup({ to: `${dir}/full.qcow2` });
    assert.equal(full.bytes, 16 * 1024 * 1024);
    await io("write -P 0xcd 1M 64k");
    const inc = await vm.backup({ to: `${dir}/inc.qcow2`, sync: "incremental" });
    assert.deepEqual([inc.bytes, inc.base], [65536, `${dir}/full.qcow2`]);
    await rejectsWith(vm.backup({ to: `${dir}/inc.qcow2` }), Error, /exists/);
    await rejectsWith(vm.backup({ to: `${dir}/x.qcow2`, disk: "disk9" }), Error, /no disk "disk9"/);
    const check = await new Deno.Command("qemu-img", { args: ["check", `${dir}/inc.qcow2`] })
      .output();
    assert.ok(check.success);
    const info = JSON.parse(
      new TextDecoder().decode(
        (await new Deno.Command("qemu-img", {
          args: ["info", "--output=json", `${dir}/inc.qcow2`],
        }).output()).stdout,
      ),
    );
    assert.equal(info["backing-filename"], `${dir}/full.qcow2`);
    assert.deepEqual(await vm.executeUntyped("query-jobs"), [], "every job dismissed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("template: warm: clones start from one saved state, each with its own QEMU; nothing is left", async () => {
  const specs = ["w1", "w2", "w3"].map((name) => ({ name, template: "warm" as const }));
  let stateDirs: string[] = [];
  {
    await using lab = await Lab.launch(specs);
    const pids = new Set(lab.names.map((n) => lab.vm(n).pid));
    assert.equal(pids.size, 3);
    // The template booted and printed READY; the clones resume after it, running, and answer.
    for (const name of lab.names) {
      const vm = lab.vm(name);
      assert.equal((await vm.status()).status, "running");
      assert.equal(vm.console.history().some((l) => l.text.includes("READY")), false);
      await vm.console.exec(`hi-${name}`, { expect: /^unknown command/ });
    }
    await lab.vm("w2").injectNmi();
    await lab.vm("w2").waitFor("GUEST_PANICKED");
    assert.equal((await lab.vm("w1").status()).status, "running", "clones are independent");
    const base = await runtimeBase();
    stateDirs = [...Deno.readDirSync(base)].map((e) => e.name).filter((n) => n.includes("-state-"));
    assert.equal(stateDirs.length, 1, "one saved state for one spec");
  }
  const base = await runtimeBase();
  const left = [...Deno.readDirSync(base)].map((e) => e.name).filter((n) => stateDirs.includes(n));
  assert.deepEqual(left, []);
});

Deno.test("vm.migrate: postcopy moves the guest too, and its console answers there", async () => {
  await using vm = await launch({ name: "postcopy" });
  await vm.console.waitFor("READY");
  const moved = await vm.migrate({ mode: "postcopy", postcopyAfter: 0 });
  assert.equal(moved.postcopy, true);
  assert.equal((await vm.status()).status, "running");
  await vm.console.exec("hello-postcopy", { expect: /^unknown command/ });
});
