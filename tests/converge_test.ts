/**
 * Migration convergence control (issue 25): `deadlinePerGib` bounds a
 * migration by the guest's size, `stallTimeout` cancels one whose remaining
 * RAM stops shrinking (here its destination is stopped mid-stream, so the
 * link carries nothing), and `autoConverge` is asked of QEMU; a cancelled
 * move leaves the VM running where it was, and the next move goes through.
 */

import assert from "node:assert/strict";
import { launch, MigrationError, parseRecipe } from "../mod.ts";
import { processes } from "../lib/vm/_procs.ts";
import { delay } from "../lib/_async.ts";
import { checkBlocks, fillBlocks } from "./_blocks.ts";

Deno.test("converge: a migration past its deadline per GiB, and one whose destination stops taking the stream, are cancelled with the reason, the VM running on where it was; with auto-converge and both watches on it moves, and moves again with its disk copied", async () => {
  await using vm = await launch({
    name: "stalls",
    guest: "builtin:linux",
    disks: [{ name: "data", size: "16M" }],
  });
  await vm.agent.waitReady({ timeout: 120_000 });
  await vm.agent.exec(fillBlocks("kept", 40), { timeout: 60_000 });
  const pid = vm.pid;
  const runsOn = async () => {
    assert.equal(vm.pid, pid);
    assert.equal((await vm.status()).status, "running");
    assert.equal((await vm.agent.exec("echo here")).stdout, "here\n");
  };

  // 256 MiB at 1 MiB/s cannot make 10 s per GiB (2.5 s).
  await assert.rejects(
    () => vm.migrate({ maxBandwidth: 2 ** 20, deadlinePerGib: 10_000 }),
    (error) =>
      error instanceof MigrationError &&
      /did not complete within 2\.5 s \(deadline-per-gib 10 s × 0\.25 GiB\): cancelled, the source runs on/
        .test(error.message),
  );
  await runsOn();

  const moving = vm.migrate({ maxBandwidth: 10 * 2 ** 20, stallTimeout: 1000, timeout: 60_000 });
  // Once the stream flows, the destination stops reading it: it is stopped (SIGSTOP).
  while ((await vm.execute("query-migrate")).status !== "active") await delay(20);
  const destination = [...await processes()].find(([, p]) => p.args.includes("-name stalls-m"));
  Deno.kill(destination![0], "SIGSTOP");
  await assert.rejects(
    () => moving,
    (error) =>
      error instanceof MigrationError &&
      /no progress for 1 s: [\d.]+ MiB of RAM still to send/.test(error.message),
  );
  await runsOn();

  const moved = await vm.migrate({
    autoConverge: true,
    stallTimeout: 5000,
    deadlinePerGib: 60_000,
  });
  assert.notEqual(vm.pid, pid);
  assert.equal(moved.from, "stalls");
  assert.equal((await vm.agent.exec("echo here")).stdout, "here\n");
  // And with its disk copied to the destination's own (NBD mirrors), on this QEMU build too.
  const copied = await vm.migrate({ copyStorage: true });
  assert.ok(copied.storageBytes! >= 16 * 2 ** 20, `${copied.storageBytes}`);
  const check = await vm.agent.exec(checkBlocks("kept", 40), { timeout: 60_000 });
  assert.equal(check.stdout, "checked\n");
});

Deno.test("converge: migrate's auto-converge, stall-timeout and deadline-per-gib are read from a recipe", () => {
  const recipe = parseRecipe(
    `recipe: 1
name: opts
vms: { a: {} }
steps:
  - { name: m, migrate: { auto-converge: true, stall-timeout: 30s, deadline-per-gib: 10s } }
`,
    "opts.yaml",
  );
  assert.deepEqual(
    recipe.steps[0]!.action,
    {
      kind: "migrate",
      mode: "precopy",
      autoConverge: true,
      stallTimeout: 30_000,
      deadlinePerGib: 10_000,
    },
  );
});
