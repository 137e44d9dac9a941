/**
 * Live migration without shared storage (issue 25): `migrate: { host,
 * copy-storage: true }` moves a Linux VM from one SSH host to another that
 * has none of its disk files, while a writer in the guest keeps rewriting
 * its disk; afterwards the guest reads every block as last written, from
 * the disk (caches dropped): the destination's own disk file.
 */

import assert from "node:assert/strict";
import { parseRecipe, runRecipe } from "../mod.ts";
import { canMakeHosts, testHosts } from "./_hosts.ts";

/** Fill blocks 1..N (64 KiB each) with `WORD-i` over and over. */
const fill = (word: string, blocks: number) =>
  `i=0; while [ $i -lt ${blocks} ]; do i=$((i+1)); ` +
  `yes ${word}-$i | head -c 65536 | dd of=/dev/vda bs=64k seek=$i conv=fsync 2>/dev/null; done`;

/** Print `bad N` for every block that does not hold `WORD-i`. */
const check = (word: string, blocks: number) =>
  `sync; echo 3 > /proc/sys/vm/drop_caches; i=0; while [ $i -lt ${blocks} ]; do i=$((i+1)); ` +
  `[ "$(dd if=/dev/vda bs=64k skip=$i count=1 2>/dev/null | md5sum)" = ` +
  `"$(yes ${word}-$i | head -c 65536 | md5sum)" ] || echo bad $i; done; echo checked`;

Deno.test({
  name:
    "copy-storage: a Linux VM moves to a host without its disk, a writer rewriting it all along; every block reads back as last written, from the disk on the destination",
  ignore: !canMakeHosts(),
  async fn() {
    await using hosts = await testHosts(2);
    const recipe = parseRecipe(
      `recipe: 1
name: copy-storage
hosts:
${hosts.yaml()}
vms:
  db: { host: h1, guest: builtin:linux, disks: [{ name: data, size: 64M }] }
defaults: { timeout: 120s }
steps:
  - { name: up, wait-agent: {} }
  - name: written
    agent:
      exec: |-
        ${fill("first", 160)}
  - name: rewriting
    agent:
      exec: |-
        setsid sh -c '${fill("again", 160)}; echo done > /run/w' </dev/null >/dev/null 2>&1 &
  - { name: moved, id: move, migrate: { host: h2, copy-storage: true } }
  - { name: writer done, wait-until: { exec: "[ -e /run/w ]" } }
  - name: every block
    agent:
      exec: |-
        ${check("again", 160)}
metrics:
  downtime: { value: move.downtimeMs }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
      "copy-storage.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1 });
    assert.equal(journal.verdict, "pass", journal.reason);
    const moved = journal.steps.find((s) => s.name === "moved")!.targets[0]!.output as {
      storageBytes: number;
      to: string;
    };
    assert.ok(moved.storageBytes >= 64 * 2 ** 20, `${moved.storageBytes}`);
    const every = journal.steps.find((s) => s.name === "every block")!.targets[0]!.output as {
      stdout: string;
    };
    assert.equal(every.stdout, "checked\n");
  },
});
