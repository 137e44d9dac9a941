/**
 * Live progress (issue 16): on a terminal, one line per running step,
 * redrawn in place, then a summary folded by group when it does not fit;
 * without one, plain lines; -q, the verdict alone.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { corral, recipeFile } from "./_cli.ts";
import { terminal } from "./_tmux.ts";

const RECIPE = `recipe: 1
name: progress
vms:
  web[1:8]: { groups: [web] }
  db[1:4]: { groups: [db] }
steps:
  - { name: booted, console: { wait: READY } }
  - { name: crash the databases, on: db, nmi: {} }
  - { name: panic seen, on: db, wait-event: { event: GUEST_PANICKED } }
  - { name: one fails on purpose, on: web3, fail: "on purpose", continue-on-error: true }
  - { name: recover, on: db, reset: {} }
finally:
  - { name: stop, stop: { grace: 0s } }
`;

const cli = fileURLToPath(new URL("../lib/cli/main.ts", import.meta.url));

Deno.test("progress: on a terminal, a line per step redrawn in place, then the summary folded by group", async () => {
  const file = await recipeFile(RECIPE);
  const runtime = await Deno.makeTempDir({ prefix: "corral-progress-" });
  try {
    await using term = await terminal(
      // A terminal where colour is wanted: NO_COLOR (CI sets it) means plain lines.
      `env -u NO_COLOR ${Deno.execPath()} run -A ${cli} run ${file} --seed 1`,
      { CORRAL_RUNTIME_DIR: runtime },
      { width: 70, height: 60 },
    );
    await term.until((s) => s.includes("[exit "), "the run's end", 120_000);
    const screen = await term.history();
    assert.match(screen, /\[exit 0\]/);
    assert.match(screen, /^✓ booted {2}12\/12 ok {2}/m);
    assert.match(screen, /^✓ panic seen {2}4\/4 ok {2}/m);
    assert.match(screen, /^✗ one fails on purpose {2}0\/1 ok, 1 not {2}/m);
    assert.match(screen, /^ {4}web3 failed: .*on purpose/m);
    // Redrawn in place: no running line is left behind, and no line per VM.
    assert.doesNotMatch(screen, /^▶ /m);
    assert.doesNotMatch(screen, /^ {2}✓ web1/m);
    assert.match(screen, /12 VMs, folded by group:/);
    assert.match(screen, /^booted +ok 8\/8 +ok 4\/4/m);
    assert.match(screen, /^one fails on purpose +1 fail\* +·/m);
    assert.match(screen, /verdict: PASS/);
  } finally {
    await Deno.remove(file);
    await Deno.remove(runtime, { recursive: true });
  }
});

Deno.test("progress: on a terminal with NO_COLOR, plain lines", async () => {
  const file = await recipeFile(RECIPE);
  const runtime = await Deno.makeTempDir({ prefix: "corral-progress-" });
  try {
    await using term = await terminal(
      `${Deno.execPath()} run -A ${cli} run ${file} --seed 1`,
      { CORRAL_RUNTIME_DIR: runtime, NO_COLOR: "1" },
      { width: 200, height: 80 },
    );
    await term.until((s) => s.includes("[exit "), "the run's end", 120_000);
    const screen = await term.history();
    assert.match(screen, /^▶ booted on web1, /m);
    assert.match(screen, /^ {2}✓ web1 /m);
    assert.match(screen, /\[exit 0\]/);
  } finally {
    await Deno.remove(file);
    await Deno.remove(runtime, { recursive: true });
  }
});

Deno.test("progress: without a terminal, plain lines per VM; -q prints the verdict alone", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const plain = await corral(["run", file, "--seed", "1"]);
    assert.equal(plain.code, 0, plain.out + plain.err);
    assert.match(plain.out, /^▶ booted on web1, web2, .*db4$/m);
    assert.match(plain.out, /^ {2}✓ web1 /m);
    assert.ok(!plain.out.includes("\x1b["), "no escape sequences");
    assert.match(plain.out, /^step +web1 +web2 /m, "a column per VM when it fits");
    const quiet = await corral(["run", file, "--seed", "1", "-q"]);
    assert.equal(quiet.code, 0);
    assert.deepEqual(quiet.out.trim().split("\n").length, 1);
    assert.match(quiet.out, /^verdict: PASS \(every step passed on every VM\)/);
  } finally {
    await Deno.remove(file);
  }
});
