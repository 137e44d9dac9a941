/**
 * The shipped maintenance recipes on real Linux guests (issue 14):
 * evacuate (every VM live-migrated while a workload counts on) and
 * snapshot-rollback (freeze, snapshot, break, roll back, the data is back).
 */

import assert from "node:assert/strict";
import { corral, recipeFile } from "./_cli.ts";
import { launch, MigrationError } from "../mod.ts";
import { rejectsWith } from "./_assert.ts";

Deno.test("linux: the shipped evacuate recipe passes: every VM moved, the workload kept counting, downtime bounded", async () => {
  const result = await corral(["run", "recipes/evacuate.yaml", "--seed", "1"]);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(result.out, /the same workload kept counting +ok +ok +ok/);
  assert.match(
    result.out,
    /metric downtime: app1 [\d.]+ ms, app2 [\d.]+ ms, app3 [\d.]+ ms \(max 2 s: ok\)/,
  );
  // Three launched, three destinations started.
  assert.equal(result.qemuStarts.length, 6);
});

Deno.test("linux: the shipped snapshot-rollback recipe passes: the duplicate tag fails, the data comes back", async () => {
  const result = await corral(["run", "recipes/snapshot-rollback.yaml", "--seed", "1"]);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(result.out, /a second snapshot under the same tag fails +fail\*/);
  assert.match(result.out, /already exists/);
  assert.match(result.out, /the data is back +ok/);
});

Deno.test("linux: template: warm clones boot once, then each clone has its own name and state", async () => {
  const file = await recipeFile(
    "recipe: 1\nname: clones\nvms:\n  defaults: { guest: builtin:linux, template: warm }\n" +
      "  c[1:3]: {}\nsteps:\n" +
      '  - { name: named, agent: { exec: \'test "$(hostname)" = "${{ vm.name }}"\' } }\n' +
      '  - { name: write, on: c1, agent: { exec: "touch /tmp/mine" } }\n' +
      '  - { name: own state, on: "c2:c3", agent: { exec: "test ! -e /tmp/mine" } }\n',
  );
  try {
    const result = await corral(["run", file, "--seed", "1"]);
    assert.equal(result.code, 0, result.out + result.err);
    // One template, then three clones that restore instead of booting.
    assert.equal(result.qemuStarts.length, 4);
    assert.equal(result.qemuStarts.filter((line) => line.includes("-incoming")).length, 3);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("linux: a migration that cannot converge by its deadline is cancelled; the guest runs on where it was", async () => {
  await using vm = await launch({ name: "busy", guest: "builtin:linux" }, { timeout: 120_000 });
  await vm.agent.waitReady({ timeout: 120_000 });
  // Memory dirtied faster than 1 MiB/s can carry it (random bytes: no zero pages to skip).
  await vm.agent.exec(
    "(while true; do head -c 4M /dev/urandom > /dev/shm/dirty; done) </dev/null >/dev/null 2>&1 &",
  );
  const pid = vm.pid;
  await rejectsWith(
    vm.migrate({ maxBandwidth: 1024 * 1024, downtimeLimit: 1, timeout: 3000 }),
    MigrationError,
    /vm 'busy': the migration did not complete within 3 s: cancelled, the source runs on/,
  );
  assert.equal(vm.pid, pid);
  assert.equal(vm.instance, "busy");
  assert.equal((await vm.status()).status, "running");
  const migration = await vm.executeUntyped("query-migrate") as { status: string };
  assert.equal(migration.status, "cancelled");
  assert.equal((await vm.agent.exec("echo still-here")).stdout, "still-here\n");
});
