/**
 * The run's life as a terminal user sees it (issue 9): Ctrl-C and SIGTERM
 * reach corral alone, finally runs on live VMs; if corral is killed its
 * QEMUs die too and `corral ps`/`gc` find what is left; `--keep` leaves
 * exactly the running VMs, with their sockets.
 */

import assert from "node:assert/strict";
import { Vm } from "../mod.ts";
import { within } from "./_assert.ts";
import { delay } from "../lib/_async.ts";
import { processes } from "../lib/vm/_procs.ts";
import { corral, corralWithInput, recipeFile, startCorral } from "./_cli.ts";

const LONG = "recipe: 1\nname: long\nvms:\n  a: {}\n  b: {}\nsteps:\n" +
  "  - { name: booted, console: { wait: READY } }\n  - { name: wait forever, sleep: 1h, timeout: 2h }\n" +
  "finally:\n  - { name: cleanup, qmp: { execute: query-status } }\n";

/** Whether a process runs (and is not a zombie). */
async function alive(pid: number): Promise<boolean> {
  return (await processes()).has(pid);
}

/** The QEMU pids a run printed (`a: launched (pid N)`). */
function pids(out: string): number[] {
  return [...out.matchAll(/launched \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

async function withScratch(fn: (scratch: string, file: string) => Promise<void>, text = LONG) {
  const scratch = await Deno.makeTempDir({ prefix: "corral-life-" });
  const file = await recipeFile(text);
  try {
    await fn(scratch, file);
  } finally {
    await corral(["gc", "--all"], { runtimeDir: `${scratch}/run` });
    await Deno.remove(file);
    await Deno.remove(scratch, { recursive: true });
  }
}

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`cli: ${signal} to the terminal's process group reaches corral alone; finally runs on live VMs; exit ${code}`, async () => {
    await withScratch(async (scratch, file) => {
      const run = startCorral(["run", file, "--report", `${scratch}/report`], `${scratch}/run`);
      const out = await run.until("▶ wait forever");
      // A terminal sends Ctrl-C to every process of the foreground group; under `deno task`
      // the task runner forwards it too, so it arrives twice at once.
      Deno.kill(-run.child.pid, signal);
      Deno.kill(-run.child.pid, signal);
      const status = await within(run.child.status, 60_000, `corral to exit after ${signal}`);
      await run.rest();
      assert.equal(status.code, code);
      const journal = JSON.parse(await Deno.readTextFile(`${scratch}/report/journal.json`));
      assert.equal(journal.verdict, "error");
      assert.match(journal.reason, /interrupted/);
      const cleanup = journal.steps.find((s: { name: string }) => s.name === "cleanup");
      assert.deepEqual(cleanup.targets.map((t: { status: string }) => t.status), ["ok", "ok"]);
      for (const pid of pids(out)) assert.ok(!await alive(pid), `QEMU ${pid} outlived the run`);
      assert.deepEqual([...Deno.readDirSync(`${scratch}/run`)], [], "every VM directory is gone");
    });
  });
}

Deno.test("cli: a second Ctrl-C kills every QEMU at once", async () => {
  const text = LONG.replace(
    "query-status } }",
    "query-status } }\n  - { name: slow, sleep: 1h, timeout: 2h }",
  );
  await withScratch(async (scratch, file) => {
    const run = startCorral(["run", file], `${scratch}/run`);
    const out = await run.until("▶ wait forever");
    Deno.kill(-run.child.pid, "SIGINT");
    await run.until("▶ slow");
    // Press Ctrl-C again until corral exits (a press right after the first is the same one).
    let exited = false;
    run.child.status.then(() => exited = true);
    for (const end = performance.now() + 30_000; !exited && performance.now() < end;) {
      Deno.kill(-run.child.pid, "SIGINT");
      await delay(50);
    }
    const status = await within(run.child.status, 1000, "corral to exit after a second Ctrl-C");
    await run.rest();
    assert.equal(status.code, 130);
    for (const pid of pids(out)) {
      assert.ok(!await alive(pid), `QEMU ${pid} outlived the second Ctrl-C`);
    }
  }, text);
});

Deno.test("cli: corral test: Ctrl-C stops the suite's recipes (their finally runs), a second kills every QEMU at once", async () => {
  const text = LONG.replace(
    "query-status } }",
    "query-status } }\n  - { name: slow, sleep: 1h, timeout: 2h }",
  );
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = startCorral(["test", file], runtimeDir);
    await run.until("start  ");
    const qemus = await within(qemusIn(runtimeDir, 2), 60_000, "the suite's two QEMUs to start");
    Deno.kill(-run.child.pid, "SIGINT");
    await run.until("SIGINT: stopping the recipes, each running its finally and cleanup");
    let exited = false;
    run.child.status.then(() => exited = true);
    for (const end = performance.now() + 30_000; !exited && performance.now() < end;) {
      Deno.kill(-run.child.pid, "SIGINT");
      await delay(50);
    }
    const status = await within(
      run.child.status,
      1000,
      "corral test to exit after a second Ctrl-C",
    );
    await run.rest();
    assert.equal(status.code, 130);
    for (const pid of qemus) assert.ok(!await alive(pid), `QEMU ${pid} outlived the second Ctrl-C`);
  }, text);
});

/** The pids of the `count` QEMUs whose sockets are in `runtimeDir`, once they all run. */
async function qemusIn(runtimeDir: string, count: number): Promise<number[]> {
  for (;;) {
    const table = await processes();
    const found = [...table].filter(([, p]) => p.args.includes(runtimeDir)).map(([pid]) => pid);
    if (found.length >= count) return found;
    await delay(50);
  }
}

Deno.test("cli: when corral is killed with SIGKILL its QEMUs die; ps shows what is left, gc removes it", async () => {
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = startCorral(["run", file], runtimeDir);
    const out = await run.until("▶ wait forever");
    const qemus = pids(out);
    assert.equal(qemus.length, 2);
    Deno.kill(run.child.pid, "SIGKILL");
    await run.child.status;
    await run.rest();
    // The kernel's parent-death signal: QEMU dies within 5 s (in practice at once).
    const living = async () => {
      const table = await processes();
      return qemus.filter((pid) => table.has(pid));
    };
    const end = performance.now() + 5000;
    while ((await living()).length > 0 && performance.now() < end) await delay(20);
    assert.deepEqual(await living(), [], "QEMUs outlived their corral by 5 s");
    const ps = await corral(["ps", "--json"], { runtimeDir });
    const listed = JSON.parse(ps.out);
    const states = listed.map((vm: { name: string; state: string }) => `${vm.name} ${vm.state}`);
    assert.deepEqual(states.sort(), ["a dead", "b dead"]);
    const gc = await corral(["gc"], { runtimeDir });
    assert.match(gc.out, /0 VM\(s\) stopped, 2 director\(ies\) removed/);
    assert.deepEqual([...Deno.readDirSync(runtimeDir)], []);
    assert.match((await corral(["ps"], { runtimeDir })).out, /^no VMs/);
  });
});

Deno.test("cli: --keep leaves exactly the running VMs, says where their sockets are; ps finds them, gc --all stops them", async () => {
  const text = "recipe: 1\nname: keep\nvms:\n  a: {}\n  b: {}\nsteps:\n" +
    "  - { name: booted, console: { wait: READY } }\n" +
    "finally:\n  - { name: stop b, on: b, stop: { grace: 0s } }\n";
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = await corral(["run", file, "--keep"], { runtimeDir });
    assert.equal(run.code, 0, run.out + run.err);
    const kept = [...run.out.matchAll(/^ {2}(\w+): pid (\d+), qmp unix:(\S+), console (\S+)$/gm)];
    assert.deepEqual(kept.map((m) => m[1]), ["a"], run.out);
    const [, , pid, qmp] = kept[0]!;
    assert.ok(await alive(Number(pid)), `kept QEMU ${pid} is not running:\n${run.out}`);
    const ps = JSON.parse((await corral(["ps", "--json"], { runtimeDir })).out);
    assert.deepEqual(ps.map((vm: { name: string; state: string }) => [vm.name, vm.state]), [[
      "a",
      "kept",
    ]]);
    await using vm = await Vm.connect(`unix:${qmp}`, { name: "a" });
    assert.equal((await vm.status()).status, "running");
    await vm.close();
    const gc = await corral(["gc", "--all"], { runtimeDir });
    assert.match(gc.out, /stopped a \(pid \d+, kept\)/);
    assert.ok(!await alive(Number(pid)));
  }, text);
});

Deno.test("cli: --json and the terminal never show a secret; --report into a used directory exits 2", async () => {
  const text =
    "recipe: 1\nname: secret\nvars: { api_token: x }\nvms:\n  a: { guest: none }\nsteps:\n" +
    "  - { name: say, fail: 'token ${{ vars.api_token }}', continue-on-error: true }\n";
  await withScratch(async (scratch, file) => {
    const secret = 's3cr"et\\t0ken';
    const result = await corral(["run", file, "--var", `api_token=${secret}`, "--json"]);
    assert.equal(result.code, 0, result.err);
    for (const text of [result.out, result.err]) {
      assert.ok(!text.includes(secret) && !text.includes(JSON.stringify(secret).slice(1, -1)));
    }
    assert.match(result.out, /"error": "vm 'a': token \*\*\*"/);
    await Deno.mkdir(`${scratch}/used/vms/old`, { recursive: true });
    const used = await corral(["run", file, "--report", `${scratch}/used`]);
    assert.equal(used.code, 2);
    assert.match(used.err, /is not empty: name a new one, or add --force/);
    assert.deepEqual(used.qemuStarts, []);
  }, text);
});

Deno.test("cli: gc removes the lab network namespace of a corral that died", async () => {
  const stale = "corral-999999999-test";
  const ip = (args: string[]) =>
    new Deno.Command("ip", { args, stdout: "piped", stderr: "null" }).output();
  await ip(["netns", "add", stale]);
  try {
    const gc = await corral(["gc"]);
    assert.equal(gc.code, 0, gc.err);
    assert.match(gc.out, new RegExp(`removed the lab network namespace ${stale}`));
    const list = new TextDecoder().decode((await ip(["netns", "list"])).stdout);
    assert.ok(!list.includes(stale));
  } finally {
    await ip(["netns", "delete", stale]);
  }
});

Deno.test("cli: corral exec runs a command in a kept VM through its agent: its output and exit code; a VM that is not there is named; corral console types into its console", async () => {
  const text = "recipe: 1\nname: exec\nvms:\n  a: { guest: builtin:linux }\nsteps:\n" +
    "  - { name: up, wait-agent: {}, timeout: 180s }\n";
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = await corral(["run", file, "--keep"], { runtimeDir });
    assert.equal(run.code, 0, run.out + run.err);
    try {
      const exec = await corral(["exec", "a", "--", "echo", "from-$(uname -s);", "exit", "3"], {
        runtimeDir,
      });
      assert.equal(exec.code, 3, exec.err);
      assert.equal(exec.out, "from-Linux\n");
      const missing = await corral(["exec", "b", "--", "true"], { runtimeDir });
      assert.equal(missing.code, 1);
      assert.match(missing.err, /corral exec: no VM "b" runs: these do: a/);
      const usage = await corral(["exec", "a"], { runtimeDir });
      assert.equal(usage.code, 2);
      // Its console, from a script: what is typed goes in, the console is left once TEXT shows.
      const env = { CORRAL_RUNTIME_DIR: runtimeDir, NO_COLOR: "1" };
      const console = await corralWithInput(
        ["console", "a", "--until", "hi-42"],
        "echo hi-$((40+2))\n",
        env,
      );
      assert.equal(console.code, 0, console.err);
      assert.match(console.out, /hi-42/);
      const quiet = await corralWithInput(
        ["console", "a", "--until", "never-printed", "--timeout", "1s"],
        "",
        env,
      );
      assert.equal(quiet.code, 1);
      assert.match(quiet.err, /corral console: a printed no "never-printed" in 1s/);
    } finally {
      await corral(["gc", "--all"], { runtimeDir });
    }
  }, text);
});

Deno.test("cli: --keep-on-failure keeps the VMs of a run that failed, and none of one that passed", async () => {
  const recipe = (step: string) =>
    `recipe: 1\nname: kof\nvms:\n  a: {}\nsteps:\n  - { name: up, console: { wait: READY } }\n  - ${step}\n`;
  const failing = recipe("{ name: bad, qmp: { execute: no-such-command } }");
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = await corral(["run", file, "--keep-on-failure"], { runtimeDir });
    assert.equal(run.code, 1, run.out + run.err);
    assert.match(run.out, /kept running \(corral ps lists them[^\n]*\n {2}a: pid \d+/);
    const ps = JSON.parse((await corral(["ps", "--json"], { runtimeDir })).out);
    assert.deepEqual(ps.map((vm: { name: string; state: string }) => [vm.name, vm.state]), [[
      "a",
      "kept",
    ]]);
  }, failing);
  await withScratch(async (scratch, file) => {
    const runtimeDir = `${scratch}/run`;
    const run = await corral(["run", file, "--keep-on-failure"], { runtimeDir });
    assert.equal(run.code, 0, run.out + run.err);
    assert.doesNotMatch(run.out, /kept running/);
    assert.match((await corral(["ps"], { runtimeDir })).out, /^no VMs/);
  }, recipe("{ name: fine, qmp: { execute: query-status } }"));
});
