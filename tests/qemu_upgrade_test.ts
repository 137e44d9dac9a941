/**
 * Moving running VMs between QEMU builds (issue 25): `vm.migrate({ qemu })`
 * and `migrate: { qemu }` move a VM onto another build with the machine
 * type it runs pinned, so 7.2 → 10.0 works and the guest keeps what it had
 * in memory and on disk; a move to an older build, or to one without the
 * VM's machine type, is refused before anything stops. CI runs this once
 * per build with the other one in `CORRAL_QEMU_OTHER`: from 7.2 it moves up
 * (the shipped `recipes/qemu-upgrade.yaml` included), from 10.0 it is
 * refused going down.
 */

import assert from "node:assert/strict";
import { launch, MigrationError } from "../mod.ts";
import { corral, root } from "./_cli.ts";
import { otherQemu, QEMU_BINARY, versionOf } from "./_qemu.ts";

/** The machine types a QEMU binary knows. */
function machinesOf(binary: string): string[] {
  const out = new Deno.Command(binary, { args: ["-machine", "help"] }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((line) => line.split(/\s+/)[0]!);
}

const other = otherQemu();
/** Whether the other build is newer than the one under test. */
const newer = other !== undefined && (() => {
  const [a, b] = [versionOf(other), versionOf(QEMU_BINARY)];
  const at = a.findIndex((part, i) => part !== b[i]);
  return at >= 0 && a[at]! > b[at]!;
})();

Deno.test({
  name:
    "qemu upgrade: a VM moves onto a newer QEMU build, its machine type pinned, with what it had in memory and on disk; a machine type the new build dropped is refused, the VM running on",
  ignore: other === undefined || !newer,
  async fn() {
    await using vm = await launch({
      name: "up",
      guest: "builtin:linux",
      disks: [{ name: "data", size: "16M" }],
    });
    await vm.agent.waitReady({ timeout: 120_000 });
    await vm.agent.exec("echo mem > /run/m; echo on-disk | dd of=/dev/vda conv=fsync 2>/dev/null");
    const type = await vm.execute("qom-get", { path: "/machine", property: "type" });
    const moved = await vm.migrate({ qemu: other });
    assert.equal(`${moved.machine}-machine`, type);
    const { qemu } = await vm.execute("query-version");
    assert.deepEqual([qemu.major, qemu.minor, qemu.micro], versionOf(other!));
    assert.equal(await vm.execute("qom-get", { path: "/machine", property: "type" }), type);
    assert.equal((await vm.agent.exec("cat /run/m; head -c 7 /dev/vda")).stdout, "mem\non-disk");

    // A machine type this build has and the newer one dropped (7.2's pc-i440fx-2.0, say).
    const dropped = machinesOf(QEMU_BINARY).find((m) =>
      /^pc-i440fx-\d/.test(m) && !machinesOf(other!).includes(m)
    )!;
    await using old = await launch({ name: "old", machine: dropped });
    await old.console.waitFor("READY");
    const pid = old.pid;
    await assert.rejects(
      () => old.migrate({ qemu: other }),
      (error) =>
        error instanceof MigrationError &&
        error.message.includes(`has no machine type ${dropped}, the VM's`),
    );
    assert.equal(old.pid, pid);
    assert.equal((await old.status()).status, "running");
  },
});

Deno.test({
  name:
    "qemu upgrade: recipes/qemu-upgrade.yaml moves a lab of Linux VMs onto the newer build one at a time, each still counting, each downtime within its bound",
  ignore: other === undefined || !newer,
  async fn() {
    const major = versionOf(other!)[0];
    const run = await corral([
      "run",
      `${root}recipes/qemu-upgrade.yaml`,
      "--var",
      `new_qemu=${other}`,
      "--var",
      `new_version=${major}`,
    ]);
    assert.equal(run.code, 0, run.out + run.err);
    assert.match(run.out, /metric downtime: app1 \d+ ms, app2 \d+ ms, app3 \d+ ms \(max 2 s: ok\)/);
    assert.equal(run.qemuStarts.filter((start) => start.includes("-incoming")).length, 0);
  },
});

Deno.test({
  name: "qemu upgrade: a move onto an older QEMU build is refused before anything stops",
  ignore: other === undefined || newer,
  async fn() {
    await using vm = await launch({ name: "down" });
    await vm.console.waitFor("READY");
    const pid = vm.pid;
    await assert.rejects(
      () => vm.migrate({ qemu: other }),
      (error) =>
        error instanceof MigrationError &&
        /is older than the VM's .*QEMU migrates only to the same or a newer build/.test(
          error.message,
        ),
    );
    assert.equal(vm.pid, pid);
    assert.equal((await vm.status()).status, "running");
  },
});
