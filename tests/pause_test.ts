/**
 * `corral run --pause-on-failure` (issue 24) on a real terminal (tmux):
 * the first failing step leaves the lab as it is — a fault still active —
 * and the paused corral answers exec, qmp and status; `q` aborts and
 * finally still runs. Off a terminal the flag is refused.
 */

import assert from "node:assert/strict";
import { cli, corralWithInput, recipeFile } from "./_cli.ts";
import { terminal } from "./_tmux.ts";
import type { RunJournal } from "../mod.ts";

const RECIPE = `recipe: 1
name: paused
vms:
  a: { guest: builtin:tiny }
  b: { guest: builtin:linux }
steps:
  - { name: up, on: b, wait-agent: {}, timeout: 120s }
  - { name: freeze a, on: a, pause: {} }
  - { name: bad, on: b, agent: { exec: "exit 3" } }
  - { name: never, on: b, agent: { exec: "true" } }
finally:
  - { name: cleanup, on: b, agent: { exec: "true" } }
`;

Deno.test("pause-on-failure: the lab stays as it failed (the fault active) and answers from the terminal; q aborts, finally runs", async () => {
  const file = await recipeFile(RECIPE);
  const dir = await Deno.makeTempDir({ prefix: "corral-pause-" });
  try {
    const command =
      `${Deno.execPath()} run -A ${cli} run ${file} --pause-on-failure --report ${dir}/report`;
    await using term = await terminal(command, { CORRAL_RUNTIME_DIR: `${dir}/run`, NO_COLOR: "1" });
    await term.until((s) => s.includes("paused>"), "the pause at the failing step", 180_000);
    const screen = await term.screen();
    assert.match(screen, /paused: step 'bad' failed on b:/);
    await term.type("status");
    await term.keys("Enter");
    await term.until(
      (s) => /a: paused/.test(s) && /b: running/.test(s),
      "a still paused by its fault",
    );
    await term.type("exec b echo inside-$((6*7))");
    await term.keys("Enter");
    await term.until((s) => s.includes("inside-42"), "a command run in b");
    await term.type("q");
    await term.keys("Enter");
    await term.until((s) => /\[exit \d+\]/.test(s), "the run to end", 60_000);
    const journal: RunJournal = JSON.parse(await Deno.readTextFile(`${dir}/report/journal.json`));
    assert.notEqual(journal.verdict, "pass");
    const byName = new Map(journal.steps.map((s) => [s.name, s.targets[0]?.status]));
    assert.equal(byName.get("cleanup"), "ok", "finally ran after the abort");
    assert.notEqual(byName.get("never"), "ok", "q stopped the steps");
  } finally {
    await Deno.remove(file);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pause-on-failure: refused where standard input is not a terminal", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const run = await corralWithInput(["run", file, "--pause-on-failure"], "");
    assert.equal(run.code, 2);
    assert.match(run.err, /--pause-on-failure asks on a terminal, and standard input is not one/);
  } finally {
    await Deno.remove(file);
  }
});
