/**
 * `corral shell` (issue 12) on a real pseudo-terminal (tmux) against real
 * QEMU: completion, events above a half-typed line, waits, Ctrl-C, help;
 * scripts from standard input; recording a session that corral run
 * replays; and the parser and completer on their own.
 */

import assert from "node:assert/strict";
import { Vm } from "../mod.ts";
import { complete } from "../lib/shell/complete.ts";
import { parseLine, ShellSyntaxError } from "../lib/shell/parse.ts";
import { cli, corral, corralWithInput, root } from "./_cli.ts";
import { spawnQemu } from "./_qemu.ts";
import { terminal } from "./_tmux.ts";

const CORRAL = `${Deno.execPath()} run -A ${cli}`;

Deno.test("shell: Tab completes commands, arguments and enum values from the live schema", async () => {
  await using qemu = await spawnQemu({ name: "comp" });
  const state = await Deno.makeTempDir();
  try {
    await using term = await terminal(`${CORRAL} shell ${qemu.address}`, { XDG_STATE_HOME: state });
    await term.until((s) => s.includes("qmp>"), "the prompt");
    await term.type("query-nam");
    await term.keys("Tab");
    await term.until((s) => s.includes("qmp> query-name"), "query-name completed");
    await term.keys("Enter");
    await term.until((s) => s.includes('"name": "comp"'), "the answer");
    await term.type("set-action pan");
    await term.keys("Tab");
    await term.until((s) => s.includes("qmp> set-action panic="), "the argument");
    await term.type("pa");
    await term.keys("Tab");
    await term.until((s) => s.includes("set-action panic=pause"), "the enum value");
    await term.keys("Enter");
    await term.until((s) => /set-action panic=pause\s*\n\{\}/.test(s), "{}");
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("shell: an event is printed above a half-typed line, which stays; wait after cont resolves; Ctrl-C cancels a wait", async () => {
  await using qemu = await spawnQemu({ name: "live" });
  const state = await Deno.makeTempDir();
  try {
    await using term = await terminal(`${CORRAL} shell ${qemu.address}`, { XDG_STATE_HOME: state });
    await term.until((s) => s.includes("qmp>"), "the prompt");
    // STOP comes from another client on a second monitor? One monitor: stop from the shell,
    // and type the next line before the answer is printed.
    await term.type("stop");
    await term.keys("Enter");
    await term.type("query-na");
    const screen = await term.until((s) => s.includes("event STOP"), "the STOP event");
    assert.match(
      await term.until((s) => /qmp> query-na\s*$/.test(s.trimEnd() + "\n"), "the half-typed line"),
      /event STOP/,
    );
    void screen;
    await term.keys("C-u");
    await term.type("cont");
    await term.keys("Enter");
    await term.until((s) => s.includes("event RESUME"), "RESUME");
    await term.type("wait RESUME");
    await term.keys("Enter");
    await term.until(
      (s) => /wait RESUME\n\{\n\s+"event": "RESUME"/.test(s),
      "the wait to resolve on the RESUME it caused",
    );
    await term.type("wait STOP timeout=60s");
    await term.keys("Enter");
    await term.keys("C-c");
    await term.until((s) => s.includes("error: cancelled"), "the wait to be cancelled");
    await term.type("help query-status");
    await term.keys("Enter");
    await term.until(
      (s) => s.includes("arguments: none") && /returns: object\n\s+running: bool/.test(s),
      "help with what query-status returns, member by member",
    );
    await term.keys("C-d");
    await term.until((s) => s.includes("[exit 0]"), "the shell to leave on Ctrl-D");
    const history = await Deno.readTextFile(`${state}/corral/shell_history`);
    assert.match(history, /^stop\nquery-nacont\n|cont\nwait RESUME\n/m);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

function script(address: string, lines: string[]) {
  return corralWithInput(["shell", address], lines.join("\n") + "\n");
}

Deno.test("shell: a script from standard input prints compact JSON and stops at the first error", async () => {
  await using qemu = await spawnQemu({ name: "scripted" });
  const ok = await script(qemu.address, ["# a comment", "query-name", "stop", "wait STOP", "cont"]);
  assert.equal(ok.code, 0, ok.err);
  const lines = ok.out.trim().split("\n");
  assert.equal(lines[0], '{"name":"scripted"}');
  assert.ok(lines.some((l) => l.startsWith('{"event":"STOP"')), ok.out);
  const bad = await script(qemu.address, ["query-name", "query-nmae", "query-status"]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /query-nmae: no such command in this QEMU; did you mean "query-name"\?/);
  assert.equal(bad.out.trim().split("\n").length, 1, "nothing ran after the error");
  assert.ok(!/\n\s+at /.test(bad.err), "no stack trace");
});

Deno.test("shell: record turns a session into a recipe that corral run replays", async () => {
  await using qemu = await spawnQemu({ name: "rec" });
  const dir = await Deno.makeTempDir();
  try {
    const recipe = `${dir}/session.yaml`;
    const session = await script(qemu.address, [
      `record ${recipe}`,
      "stop",
      "wait STOP",
      "cont",
      "wait RESUME timeout=5s",
      "record stop",
    ]);
    assert.equal(session.code, 0, session.err);
    const run = await corral(["run", recipe]);
    assert.equal(run.code, 0, run.out + run.err);
    assert.match(run.out, /verdict: PASS/);
    await using vm = await Vm.connect(qemu.address);
    assert.equal((await vm.status()).status, "running");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell: record refuses links, existing files and missing directories at record time", async () => {
  await using qemu = await spawnQemu({ name: "rec-safe" });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/victim`, "precious");
    await Deno.symlink(`${dir}/victim`, `${dir}/link.yaml`);
    const link = await script(qemu.address, [`record ${dir}/link.yaml`, "stop", "record stop"]);
    assert.equal(link.code, 1);
    assert.match(link.err, /link\.yaml is a symbolic link/);
    assert.equal(await Deno.readTextFile(`${dir}/victim`), "precious");

    await Deno.writeTextFile(`${dir}/old.yaml`, "mine");
    const existing = await script(qemu.address, [`record ${dir}/old.yaml`, "record stop"]);
    assert.equal(existing.code, 1);
    assert.match(existing.err, /old\.yaml exists: record .* force replaces it/);
    assert.equal(await Deno.readTextFile(`${dir}/old.yaml`), "mine");
    const forced = await script(qemu.address, [
      `record ${dir}/old.yaml force`,
      "stop",
      "record stop",
    ]);
    assert.equal(forced.code, 0, forced.err);
    assert.match(await Deno.readTextFile(`${dir}/old.yaml`), /execute: stop/);

    const missing = await script(qemu.address, [`record ${dir}/nowhere/s.yaml`, "cont"]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /the directory .*nowhere does not exist/);
    for (const result of [link, existing, missing]) {
      assert.doesNotMatch(result.err, /\n\s+at /, "no stack trace");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell: the line parser and the completer", () => {
  assert.deepEqual(parseLine('migrate uri="exec:cat > /dev/null" channels=[{"x": 1}]')!.args, {
    uri: "exec:cat > /dev/null",
    channels: [{ x: 1 }],
  });
  assert.throws(
    () => parseLine('x a="open'),
    (e) => e instanceof ShellSyntaxError && e.column === 5,
  );
  assert.deepEqual(parseLine('{"execute": "stop"}'), {
    name: "stop",
    args: {},
    words: [],
    rest: "",
    raw: true,
  });
  assert.equal(parseLine("   # nothing"), undefined);
});

Deno.test("cli: --version, completion scripts, and paths from the user's directory under deno task", async () => {
  const version = await corral(["--version"]);
  assert.match(version.out, /^corral \d+\.\d+\.\d+\n$/);
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  assert.equal(version.out.trim(), `corral ${config.version}`);
  for (const kind of ["bash", "zsh"]) {
    const script = await corral(["completions", kind]);
    assert.equal(script.code, 0);
    assert.match(script.out, /shell/);
  }
  const bash = await corral(["completions", "bash"]);
  const syntax = await new Deno.Command("bash", { args: ["-n"], stdin: "piped" }).spawn();
  const writer = syntax.stdin.getWriter();
  await writer.write(new TextEncoder().encode(bash.out));
  await writer.close();
  assert.ok((await syntax.status).success, "the bash script parses");
  // deno task runs in the repository; INIT_CWD is where the user was.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/mine.yaml`,
      "recipe: 1\nname: mine\nvms: { a: { guest: none } }\nsteps:\n  - { name: s, pause: {} }\n",
    );
    const { code, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["task", "check", "mine.yaml"],
      cwd: root,
      env: { INIT_CWD: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.equal(code, 0);
    assert.match(new TextDecoder().decode(stdout), /mine\.yaml: ok/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shell: completion on its own, against a real schema", async () => {
  await using qemu = await spawnQemu({ name: "schema" });
  await using vm = await Vm.connect(qemu.address);
  const schema = await vm.schema();
  const context = { schema, targets: ["web1", "web2", "db1"] };
  assert.deepEqual(complete("@we", context), [["@web1 ", "@web2 "], "@we"]);
  assert.deepEqual(complete("set-action watchdog=inj", context), [
    ["watchdog=inject-nmi "],
    "watchdog=inj",
  ]);
  assert.deepEqual(complete("wait GUEST_PAN", context), [["GUEST_PANICKED"], "GUEST_PAN"]);
  const [nested] = complete("blockdev-add cache.d", context);
  assert.deepEqual(nested, ["cache.direct="]);
});

Deno.test("shell: a VM corral started is found by name; --hmp mode; --log keeps a transcript", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-shellname-" });
  const runtimeDir = `${dir}/run`;
  try {
    await Deno.writeTextFile(
      `${dir}/keep.yaml`,
      "recipe: 1\nname: keep\nvms: { kept1: { guest: none } }\nsteps:\n  - { name: s, qmp: { execute: query-status } }\n",
    );
    const kept = await corral(["run", `${dir}/keep.yaml`, "--keep"], { runtimeDir });
    assert.equal(kept.code, 0, kept.err);
    const { code, out, err } = await corralWithInput(
      ["shell", "kept1", "--hmp", "--log", `${dir}/log.txt`],
      "info name\n@kept1 query-name\n",
      { CORRAL_RUNTIME_DIR: runtimeDir },
    );
    assert.equal(code, 0, err);
    assert.match(out, /^"kept1\\r\\n"/, "HMP answered info name");
    assert.match(out, /\{"vm":"kept1","return":\{"name":"kept1"\}\}/);
    const log = await Deno.readTextFile(`${dir}/log.txt`);
    assert.match(log, /> info name\n"kept1/);
    const missing = await corral(["shell", "nobody"], { runtimeDir });
    assert.equal(missing.code, 2);
    assert.match(
      missing.err,
      /no running VM named 'nobody' that corral started: corral ps lists them/,
    );
  } finally {
    await corral(["gc", "--all"], { runtimeDir });
    await Deno.remove(dir, { recursive: true });
  }
});
