/** Run control like Ansible's (issue 12): --limit, --start-at, --step, -v, and plan showing them. */

import assert from "node:assert/strict";
import { cli, corral, recipeFile, root } from "./_cli.ts";
import { terminal } from "./_tmux.ts";

const RECIPE = "recipe: 1\nname: control\nvars: { api_token: x }\nvms:\n" +
  "  a: { guest: none, groups: [g] }\n  b: { guest: none, groups: [g] }\n  c: { guest: none }\nsteps:\n" +
  "  - { name: first, pause: {} }\n" +
  "  - { name: second, qmp: { execute: human-monitor-command, arguments: { command-line: 'info ${{ vars.api_token }}' } } }\n" +
  "  - { name: third, resume: {} }\n";

Deno.test("cli: --limit brings up and acts on only those VMs; --start-at skips what comes before", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const run = await corral(["run", file, "--limit", "g:!b", "--start-at", "second", "--json"]);
    assert.equal(run.code, 0, run.err);
    assert.equal(run.qemuStarts.length, 1, "only a is launched");
    const journal = JSON.parse(run.out);
    const statuses = Object.fromEntries(
      journal.steps.map((s: { name: string; targets: { vm: string; status: string }[] }) => [
        s.name,
        s.targets.map((t) => `${t.vm}:${t.status}`).join(" "),
      ]),
    );
    assert.deepEqual(statuses, { first: "a:skipped", second: "a:ok", third: "a:ok" });
    assert.match(run.err, /▶ first \(skipped: before --start-at\)/);
    const plan = await corral(["plan", file, "--limit", "g:!b", "--start-at", "second"]);
    assert.match(plan.out, /limit g:!b: a\n/);
    assert.match(plan.out, / {2}b .*\(left out by --limit\)/);
    assert.match(plan.out, /- first .*\n {6}skipped \(before --start-at\)/);
    const bad = await corral(["run", file, "--limit", "nope", "--start-at", "secnod"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--limit nope: "nope" is neither a VM nor a group/);
    assert.match(bad.err, /--start-at "secnod": no step has that name; did you mean "second"\?/);
    assert.deepEqual(bad.qemuStarts, []);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: -v streams the run's QMP traffic live, secrets masked", async () => {
  const file = await recipeFile(RECIPE);
  try {
    const run = await corral([
      "run",
      file,
      "-v",
      "--limit",
      "c",
      "--secret-var",
      "api_token=hunter2",
    ]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /^c <- \{"QMP": /m);
    assert.match(run.err, /^c -> \{"execute":"qmp_capabilities"/m);
    assert.match(
      run.err,
      /^c -> \{"execute":"human-monitor-command","arguments":\{"command-line":"info \*\*\*"\}/m,
    );
    assert.ok(!run.err.includes("hunter2") && !run.out.includes("hunter2"));
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: --step asks before each step on a terminal: no skips, yes runs, continue stops asking", async () => {
  const file = await recipeFile(RECIPE);
  try {
    await using term = await terminal(
      `${Deno.execPath()} run -A ${cli} run ${file} --limit a --step`,
      {
        NO_COLOR: "1",
      },
    );
    await term.until((s) => s.includes("step 'first' on a"), "the first question");
    await term.type("n");
    await term.keys("Enter");
    await term.until((s) => s.includes("step 'second' on a"), "the second question");
    await term.type("c");
    await term.keys("Enter");
    const screen = await term.until((s) => s.includes("[exit 0]"), "the run to end");
    assert.match(screen, /▶ first \(skipped: by --step\)/);
    assert.ok(!screen.includes("step 'third' on a"), "continue stops asking");
    assert.match(screen, /▶ third on a/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: deno install -g puts a working corral on PATH, with paths from the user's directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-install-" });
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: [
        "install",
        "-g",
        "-A",
        "-f",
        "-n",
        "corral",
        "--root",
        dir,
        "--config",
        `${root}deno.json`,
        cli,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(install.success, new TextDecoder().decode(install.stderr));
    await Deno.writeTextFile(
      `${dir}/mine.yaml`,
      "recipe: 1\nname: mine\nvms: { a: { guest: none } }\nsteps:\n  - { name: s, pause: {} }\n",
    );
    const check = await new Deno.Command(`${dir}/bin/corral`, {
      args: ["check", "mine.yaml"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    assert.match(new TextDecoder().decode(check.stdout), /^mine\.yaml: ok/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
