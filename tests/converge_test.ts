/**
 * Migration convergence control (issue 25): `stall-timeout` cancels a
 * migration whose remaining RAM stops shrinking (here its destination is
 * stopped mid-stream, so the link carries nothing), `deadline-per-gib`
 * bounds it by the guest's size, and `auto-converge` is asked of QEMU; a
 * cancelled move leaves the VM running where it was, and the next move
 * goes through.
 */

import assert from "node:assert/strict";
import { launch, MigrationError } from "../mod.ts";
import { processes } from "../lib/vm/_procs.ts";
import { delay } from "../lib/_async.ts";
import { corral, recipeFile } from "./_cli.ts";

const RECIPE = `recipe: 1
name: converge
vms: { a: { guest: builtin:linux } }
defaults: { timeout: 30s }
steps:
  - { name: booted, wait-agent: {} }
  - name: past its deadline per GiB
    migrate: { max-bandwidth: 1M, deadline-per-gib: 10s }
    continue-on-error: true
  - { name: still here, wait-status: { status: running } }
  - { name: answers, agent: { exec: "echo here", expect: here } }
  - { name: moved, migrate: { auto-converge: true, stall-timeout: 5s, deadline-per-gib: 60s } }
  - { name: running there, wait-status: { status: running } }
`;

Deno.test("converge: a migration past its deadline per GiB is cancelled with the reason, the VM running where it was; auto-converge with the watches on moves it", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const run = await corral(["run", file, "--json"]);
    const journal = JSON.parse(run.out);
    const target = (name: string) =>
      journal.steps.find((s: { name: string }) => s.name === name).targets[0];
    assert.equal(journal.verdict, "pass", run.err);
    assert.match(
      target("past its deadline per GiB").error,
      /did not complete within [\d.]+ m?s \(deadline-per-gib 10 s × 0\.\d+ GiB\): cancelled, the source runs on/,
    );
    assert.equal(target("moved").output.from, "a");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("converge: a migration whose destination stops taking the stream is cancelled after stall-timeout, the VM running on where it was", async () => {
  await using vm = await launch({ name: "stalls", guest: "builtin:linux" });
  await vm.agent.waitReady({ timeout: 120_000 });
  const pid = vm.pid;
  const moving = vm.migrate({ maxBandwidth: 10 * 2 ** 20, stallTimeout: 1000, timeout: 60_000 });
  // Once the stream flows, the destination stops reading it: it is stopped (SIGSTOP).
  while ((await vm.execute("query-migrate")).status !== "active") await delay(20);
  const destination = [...await processes()].find(([, p]) => p.args.includes("-name stalls-m1"));
  Deno.kill(destination![0], "SIGSTOP");
  await assert.rejects(
    () => moving,
    (error) =>
      error instanceof MigrationError &&
      /no progress for 1 s: [\d.]+ MiB of RAM still to send/.test(error.message),
  );
  assert.equal(vm.pid, pid);
  assert.equal((await vm.status()).status, "running");
  assert.equal((await vm.agent.exec("echo here")).stdout, "here\n");
});
