/** The command line as a user runs it: exit codes, nothing touched on bad input, Ctrl-C, shipped recipes. */

import assert from "node:assert/strict";
import { spawnQemu } from "./_qemu.ts";

import { corral, recipeFile } from "./_cli.ts";

Deno.test("cli: an invalid recipe exits 2 with every error located, and starts no QEMU", async () => {
  const file = await recipeFile(
    "recipe: 1\nname: bad\nvms:\n  a: {}\nsteps:\n  - { name: s, on: b, pause: {} }\n  - { name: t, wait: {} }\n",
  );
  try {
    for (const command of ["run", "check", "plan"]) {
      const result = await corral([command, file]);
      assert.equal(result.code, 2, command);
      assert.match(
        result.err,
        new RegExp(`${file}:6:20: 'b' is not a VM or a group of this recipe`),
      );
      assert.match(result.err, new RegExp(`${file}:7:16: unknown key 'wait' in a step`));
      assert.match(result.err, /problem\(s\); nothing was run/);
      assert.deepEqual(result.qemuStarts, [], `${command} started QEMU`);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: bad arguments exit 2 with usage; --help explains each command", async () => {
  const bad = await corral(["run", "recipes/lab-smoke.yaml", "--seed", "x", "--forks", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--seed x: a whole number/);
  assert.match(bad.err, /--forks 0: a positive whole number/);
  const unknown = await corral(["walk"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'walk'/);
  for (const command of ["run", "check", "plan"]) {
    const help = await corral([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.out, new RegExp(`^usage: corral ${command} RECIPE`));
  }
});

Deno.test("cli: plan is repeatable with a seed and touches nothing", async () => {
  const first = await corral(["plan", "recipes/crash-drill.yaml", "--seed", "42"]);
  const second = await corral(["plan", "recipes/crash-drill.yaml", "--seed", "42"]);
  assert.equal(first.code, 0, first.err);
  assert.equal(first.out, second.out);
  assert.match(first.out, /seed 42 /);
  assert.match(first.out, /crash the databases \[nmi, mutating/);
  assert.match(first.out, /finally \(always runs\):\n {2}- stop everything \[stop, mutating/);
  assert.deepEqual(first.qemuStarts, []);
});

Deno.test("cli: check --live checks qmp steps against QEMU's schema", async () => {
  const file = await recipeFile(
    "recipe: 1\nname: live\nvms:\n  a: {}\nsteps:\n" +
      "  - { name: s, qmp: { execute: set-action, arguments: { panic: puase } } }\n",
  );
  try {
    const plain = await corral(["check", file]);
    assert.equal(plain.code, 0, plain.err);
    const live = await corral(["check", file, "--live"]);
    assert.equal(live.code, 2);
    assert.match(
      live.err,
      new RegExp(
        `${file}:6:5: set-action: panic: "puase" is not one of pause.*did you mean "pause"\\?`,
      ),
    );
    assert.equal(live.qemuStarts.length, 1);
    assert.match(live.qemuStarts[0]!, /-machine none/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("cli: the shipped crash drill passes and writes its report", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "corral-report-" });
  try {
    const result = await corral([
      "run",
      "recipes/crash-drill.yaml",
      "--report",
      scratch,
      "--seed",
      "5",
    ]);
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(
      result.out,
      /metric recovery: db1 [\d.]+ (ms|s), db2 [\d.]+ (ms|s) \(max 15 s: ok\)/,
    );
    assert.match(result.out, /verdict: PASS/);
    assert.equal(result.qemuStarts.length, 6);
    const journal = JSON.parse(await Deno.readTextFile(`${scratch}/journal.json`));
    assert.equal(journal.seed, 5);
    assert.equal(journal.verdict, "pass");
    const junit = await Deno.readTextFile(`${scratch}/junit.xml`);
    assert.match(junit, /<testsuite name="crash-drill" tests="\d+" failures="0"/);
    const events = (await Deno.readTextFile(`${scratch}/events.jsonl`)).trim().split("\n").map((
      l,
    ) => JSON.parse(l));
    assert.ok(
      events.some((e) => e.type === "qmp-event" && e.vm === "db1" && e.event === "GUEST_PANICKED"),
    );
    assert.match(
      await Deno.readTextFile(`${scratch}/vms/db2/console.log`),
      /READY\r\nPANIC: NMI\r\nREADY/,
    );
    assert.match(
      await Deno.readTextFile(`${scratch}/vms/db1/qmp.log`),
      /-- step 'crash the databases' \(nmi\)\n.*-> \{"execute":"inject-nmi".*<- .*"event": "GUEST_PANICKED"/s,
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("cli: the shipped recipe rolling-maintenance passes", async () => {
  const result = await corral(["run", "recipes/rolling-maintenance.yaml"]);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(result.out, /batch 1\/3: web1\n/);
  assert.match(result.out, /batch 2\/3: web2, web3, web4\n/);
  // The change is real: a hot-plugged port that moves along with the live migration.
  assert.match(result.out, /the port moved along \(batch 3\/3\) +· +· +· +· +ok +ok/);
  assert.doesNotMatch(result.out, /fail\*/);
  assert.match(result.out, /verdict: PASS/);
});

Deno.test("cli: the shipped recipe lab-smoke passes; --json prints the journal on stdout", async () => {
  const result = await corral(["run", "recipes/lab-smoke.yaml", "--json"]);
  assert.equal(result.code, 0, result.out + result.err);
  const journal = JSON.parse(result.out);
  assert.equal(journal.verdict, "pass");
  assert.equal(
    journal.steps.find((s: { name: string }) => s.name === "named right").targets[0].output.name,
    "node1",
  );
  assert.match(result.err, /verdict: PASS/);
});

Deno.test("cli: the shipped attach recipe drives QEMUs corral did not start, and leaves them", async () => {
  await using a = await spawnQemu({ name: "outside-a" });
  await using b = await spawnQemu({ name: "outside-b" });
  const result = await corral([
    "run",
    "recipes/attach.yaml",
    "--var",
    `a=${a.address}`,
    "--var",
    `b=${b.address}`,
  ]);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(result.out, /outside-a: attached/);
  assert.deepEqual(result.qemuStarts, []);
  let exited = false;
  a.status.then(() => exited = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(exited, false, "an attached QEMU keeps running");
});

Deno.test("cli: secrets from --var-file and CORRAL_VAR_NAME set declared variables, masked in the output; an undeclared one in the environment is ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-secrets-" });
  try {
    const recipe = `${dir}/r.yaml`;
    await Deno.writeTextFile(
      recipe,
      "recipe: 1\nname: secrets\nvars: { token: none, pin: none }\nvms:\n  a: { guest: none }\nsteps:\n" +
        '  - { name: use, qmp: { execute: "query-${{ vars.token }}-${{ vars.pin }}" } }\n',
    );
    await Deno.writeTextFile(`${dir}/vars.yaml`, "pin: 48151623\n");
    const run = await corral(["run", recipe, "--var-file", `${dir}/vars.yaml`], {
      env: { CORRAL_VAR_token: "s3cr3t-from-env", CORRAL_VAR_unused: "x" },
    });
    assert.equal(run.code, 3, run.out + run.err); // the only step failed: a baseline unhealthy
    // The step asked for query-s3cr3t-from-env-48151623, and said so: masked wherever it shows.
    assert.match(run.out, /no command query-\*\*\*-\*\*\*/);
    assert.doesNotMatch(run.out + run.err, /s3cr3t-from-env|48151623/);
    const bad = await corral(["run", recipe, "--var-file", `${dir}/missing.yaml`]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--var-file .*missing\.yaml: a YAML mapping of NAME: value/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: deno task install writes a corral that runs from anywhere with no deno on PATH", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-install-" });
  try {
    const install = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "tools/install.ts",
        `${dir}/bin`,
      ],
      cwd: new URL("..", import.meta.url).pathname,
    }).output();
    assert.ok(install.success, new TextDecoder().decode(install.stderr));
    const run = await new Deno.Command(`${dir}/bin/corral`, {
      args: ["--version"],
      cwd: dir,
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", HOME: Deno.env.get("HOME") ?? dir },
    }).output();
    assert.match(
      new TextDecoder().decode(run.stdout),
      /^corral \d+\.\d+\.\d+\n$/,
      new TextDecoder().decode(run.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
