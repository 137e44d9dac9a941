/**
 * Growing a running VM (issue 25): `resize-disk`, `cpus: { add }`,
 * `memory: { add }` and `balloon`, each checked from inside a real Linux
 * guest — the disk's size its driver sees, the CPUs and memory the kernel
 * has online, the memory the balloon left it — and still so after the VM
 * is live-migrated (the hot-plugged CPU and DIMM go along: the destination
 * gets them on its command line).
 */

import assert from "node:assert/strict";
import { corral, recipeFile } from "./_cli.ts";

const SEEN =
  "cat /sys/block/vda/size; nproc; sed -n 's/^MemTotal: *\\\\([0-9]*\\\\) kB/\\\\1/p' /proc/meminfo";

const RECIPE = `recipe: 1
name: grow
vms:
  g:
    guest: builtin:linux
    maxcpus: 2
    slots: 1
    balloon: true
    disks: [{ name: data, size: 16M }]
defaults: { timeout: 60s }
steps:
  - { name: booted, wait-agent: {} }
  - { name: before, agent: { exec: "${SEEN}" } }
  - { name: bigger disk, resize-disk: { disk: data, size: 32M } }
  - { name: one more CPU, cpus: { add: 1 } }
  - { name: a DIMM, memory: { add: 128M } }
  - { name: after, agent: { exec: "${SEEN}" } }
  - { name: moved, migrate: {} }
  - { name: after the move, agent: { exec: "${SEEN}" } }
  - { name: balloon down, balloon: { size: 256M } }
  - { name: ballooned, agent: { exec: "${SEEN}" } }
  - { name: shrink refused, resize-disk: { disk: data, size: 16M }, continue-on-error: true }
  - { name: no room, cpus: { add: 1 }, continue-on-error: true }
`;

Deno.test("grow: a disk resized, a CPU and a DIMM hot-plugged and the balloon set are seen inside a Linux guest, and stay across a live migration; a shrink and a CPU beyond maxcpus are refused", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const run = await corral(["run", file, "--json"]);
    const journal = JSON.parse(run.out);
    const step = (name: string) =>
      journal.steps.find((s: { name: string }) => s.name === name).targets[0];
    const seen = (name: string) => step(name).output.stdout.trim().split("\n").map(Number);
    // The two refusals are the only failures.
    assert.equal(journal.verdict, "pass", run.err);
    const [sectors, cpus, memKiB] = seen("before");
    assert.deepEqual([sectors, cpus], [32768, 1]);
    assert.deepEqual(seen("after"), [65536, 2, memKiB! + 128 * 1024]);
    assert.deepEqual(step("one more CPU").output, { cpus: 2, online: 2 });
    assert.deepEqual(seen("after the move"), seen("after"));
    // 256 MiB base + 128 MiB DIMM, ballooned to 256 MiB in all: the guest has 128 MiB less.
    assert.deepEqual(seen("ballooned"), [65536, 2, memKiB!]);
    assert.match(step("shrink refused").error, /corral grows disks and does not shrink them/);
    assert.match(step("no room").error, /no room|room for 0 more CPU/);
  } finally {
    await Deno.remove(file);
  }
});
