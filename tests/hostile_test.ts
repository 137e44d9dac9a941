/**
 * Hostile input (issue 10): whatever a peer, a guest or a recipe sends ends
 * in a result or a located CorralError, never a crash, a hang, a write
 * outside the report, or a secret out. One test per row of the issue.
 */

import assert from "node:assert/strict";
import {
  ArgumentsError,
  ConnectionClosedError,
  Console,
  launch,
  parseRecipe,
  planRecipe,
  ProtocolError,
  QmpError,
  RecipeError,
  runRecipe,
  TimeoutError,
  Vm,
} from "../mod.ts";
import { MAX_CONSOLE_LINE } from "../lib/vm/console.ts";
import { didYouMean } from "../lib/_suggest.ts";
import { rejectsWith, within } from "./_assert.ts";
import { fakePeer, GREETING } from "./_qemu.ts";
import { corral, recipeFile } from "./_cli.ts";

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

const OK = (id: number) => `{"return": {}, "id": ${id}}\r\n`;
const HEAD = "recipe: 1\nname: t\n";

function issues(text: string, options: { maxVms?: number } = {}): string[] {
  try {
    planRecipe(parseRecipe(text, "r.yaml", options), 1);
  } catch (error) {
    assert.ok(error instanceof RecipeError, `not a RecipeError: ${String(error)}`);
    return error.issues.map((issue) => `${issue.pos.line}:${issue.pos.col} ${issue.message}`);
  }
  return [];
}

Deno.test("hostile: arguments JSON cannot encode are refused before anything is registered", async () => {
  await using vm = await launch({ name: "encode", guest: "none" });
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  for (const args of [{ n: 1n }, cycle]) {
    await rejectsWith(
      vm.executeUntyped("query-status", args as Record<string, unknown>, { timeout: 100 }),
      ArgumentsError,
      /vm 'encode': cannot send query-status: /,
    );
  }
  // Nothing was left pending: closing rejects no orphan (an uncaught rejection fails the test).
  await vm.close();
});

Deno.test("hostile: what QEMU cannot parse is refused before sending; the connection goes on", async () => {
  await using vm = await launch({ name: "parse", guest: "none" });
  let deep: unknown = 1;
  for (let i = 0; i < 1100; i++) deep = [deep];
  await rejectsWith(
    vm.executeUntyped("human-monitor-command", { "command-line": "info \ud800" }),
    ArgumentsError,
    /arguments\.command-line holds a lone UTF-16 surrogate/,
  );
  await rejectsWith(
    vm.executeUntyped("human-monitor-command", { "command-line": deep } as never),
    ArgumentsError,
    /nested deeper than QEMU accepts/,
  );
  assert.equal((await vm.status()).status, "running");
});

Deno.test("hostile: an error without an id answers the oldest request and keeps the connection", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: OK(1) },
    { read: true },
    {
      send: '{"error": {"class": "GenericError", "desc": "JSON parse error, invalid escape"}}\r\n' +
        '{"return": {"status": "running"}, "id": 3}\r\n',
    },
    { hang: true },
  ]);
  await using vm = await Vm.connect(peer.address, { name: "idless" });
  const first = vm.executeUntyped("query-name");
  const second = vm.executeUntyped("query-status");
  const error = await rejectsWith(first, QmpError, /query-name failed: GenericError: JSON parse/);
  assert.equal(error.command, "query-name");
  assert.deepEqual(await second, { status: "running" });
  assert.ok(vm.connected);
});

Deno.test("hostile: a malformed greeting, half a greeting and invalid UTF-8 are protocol errors", async () => {
  {
    await using peer = await fakePeer([
      { send: '{"QMP": {"version": {}, "capabilities": []}}\r\n' },
      { hang: true },
    ]);
    await rejectsWith(Vm.connect(peer.address), ProtocolError, /malformed greeting/);
  }
  {
    await using peer = await fakePeer([{ send: '{"QMP": {"version": ' }, { hang: true }]);
    const error = await rejectsWith(Vm.connect(peer.address, { timeout: 200 }), ProtocolError);
    assert.match(error.message, /sent 20 bytes of a greeting, then nothing for 200 ms/);
    assert.notEqual(error.name, "MonitorBusyError");
  }
  {
    await using peer = await fakePeer([
      { send: GREETING },
      { read: true },
      { send: OK(1) },
      { read: true },
      {
        sendBytes: new Uint8Array([
          ...new TextEncoder().encode('{"return": "'),
          0xff,
          0x22,
          0x7d,
          0x0d,
          0x0a,
        ]),
      },
      { hang: true },
    ]);
    const vm = await Vm.connect(peer.address, { name: "utf8" });
    const error = await rejectsWith(vm.executeUntyped("query-name"), ConnectionClosedError);
    assert.ok(error.cause instanceof ProtocolError);
    assert.match((error.cause as Error).message, /not valid UTF-8/);
    await vm.close();
  }
});

Deno.test("hostile: console output without line ends costs linear time and is cut into bounded lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-console-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/serial.sock` });
  try {
    const accepted = listener.accept();
    const console = await Console.connect(`${dir}/serial.sock`, "noisy");
    const guest = await accepted;
    const chunk = new TextEncoder().encode("\r".repeat(64 * 1024));
    for (let i = 0; i < 64; i++) await writeAll(guest, chunk); // 4 MiB without a newline
    await guest.write(new TextEncoder().encode("READY\n"));
    const ready = await within(console.waitFor("READY", { since: 0 }), 20_000, "READY");
    assert.equal(ready.seq, 65, "4 MiB is cut into 64 lines of 64 Ki characters");
    assert.ok(console.history().every((line) => line.text.length <= MAX_CONSOLE_LINE));
    guest.close();
    await console.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile: exec matches expect only after the echo of the typed line", async () => {
  await using vm = await launch({ name: "echo" });
  await vm.console.waitFor("READY");
  // The tiny guest echoes the line, then says "unknown command": OK never comes.
  await rejectsWith(
    vm.console.exec("restart && echo OK", { expect: "OK", timeout: 300 }),
    TimeoutError,
    /no console line matching "OK"/,
  );
  const reply = await vm.console.exec("hi", { expect: /unknown command/ });
  assert.match(reply.text, /^unknown command/);
});

Deno.test("hostile: huge inventories, names, globs and nesting are located errors, found fast", () => {
  const million = HEAD + "vms: { 'web[1:1000000]': {} }\nsteps:\n  - { name: s, pause: {} }\n";
  assert.match(issues(million)[0]!, /^3:6 vms declares 1000000 VMs/);
  const many = issues(million.replace("1000000", "200000"), { maxVms: 200_000 });
  assert.deepEqual(many, [], "200,000 VMs are read in linear time");

  const long = "x".repeat(40_000);
  assert.equal(didYouMean(long, ["pause", "x".repeat(39_999)]), "");
  const unknownKey = issues(HEAD + `vms: { a: {} }\nsteps:\n  - { name: s, ${long}: {} }\n`);
  assert.ok(unknownKey.some((m) => /unknown key 'x{40000}' in a step$/.test(m)), unknownKey[0]);

  const glob = "w*" + "x".repeat(70_000);
  const [globIssue] = issues(
    HEAD + `vms: { a: {} }\nsteps:\n  - { name: s, on: '${glob}', pause: {} }\n`,
  );
  assert.match(globIssue!, /^5:20 the glob "w\*x+"… is 70002 characters long: at most 1024$/);

  let nested = "{ name: leaf, pause: {} }";
  for (let i = 0; i < 2000; i++) nested = `{ name: b${i}, block: [ ${nested} ] }`;
  const [deep] = issues(HEAD + `vms: { a: {} }\nsteps:\n  - ${nested}\n`);
  assert.match(deep!, /^5:\d+ nested (too deeply to read|more than 64 levels deep)/);

  const bomb = [HEAD + "vms: { a: {} }", "x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"];
  for (let i = 1; i < 9; i++) {
    bomb.push(`x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(", ")}]`);
  }
  bomb.push("steps: [{ name: s, qmp: { execute: x, arguments: { b: *a8 } } }]");
  assert.ok(
    issues(bomb.join("\n") + "\n").some((m) => /expands to more than 1000000 values/.test(m)),
  );
});

Deno.test("hostile: every VM name obeys the name rule, attached ones too (names become report paths)", () => {
  assert.deepEqual(
    issues(
      HEAD +
        "vms:\n  '../../../x': { attach: 'unix:/tmp/x.qmp' }\nsteps:\n  - { name: s, pause: {} }\n",
    ),
    [
      `4:3 vm '../../../x': name "../../../x" must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit`,
    ],
  );
});

Deno.test("hostile: a report never follows a symlink planted in its directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-links-" });
  try {
    const victim = `${dir}/victim.txt`;
    await Deno.writeTextFile(victim, "precious");
    await Deno.mkdir(`${dir}/report`);
    await Deno.symlink(victim, `${dir}/report/journal.json`);
    const recipe = parseRecipe(
      HEAD + "vms: { a: { guest: none } }\nsteps:\n  - { name: s, pause: {} }\n",
      "t.yaml",
    );
    await rejectsWith(runRecipe(recipe, { reportDir: `${dir}/report` }), Error, /not empty/);
    await runRecipe(recipe, { reportDir: `${dir}/report`, force: true });
    assert.equal(await Deno.readTextFile(victim), "precious");
    assert.ok(!(await Deno.lstat(`${dir}/report/journal.json`)).isSymlink);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile: secrets in step names, errors and escaped forms never leave; false stays false", async () => {
  const secret = 'a<b&c"d\\e';
  const text = HEAD +
    "vars: { api_token: x, use_ssh_key: false }\nvms: { a: { guest: none } }\nsteps:\n" +
    "  - { name: 'send ${{ vars.api_token }}', fail: 'sent ${{ vars.api_token }}', continue-on-error: true }\n" +
    "  - { name: s, pause: {} }\n" +
    "  - { name: flag, qmp: { execute: query-status } }\n";
  const file = await recipeFile(text);
  const report = await Deno.makeTempDir({ prefix: "corral-secret-" });
  try {
    const vars = ["--var", `api_token=${secret}`];
    const plan = await corral(["plan", file, ...vars, "--seed", "1"]);
    const run = await corral(["run", file, ...vars, "--json", "--report", `${report}/r`]);
    assert.equal(run.code, 0, run.err);
    const journal = JSON.parse(run.out);
    assert.equal(journal.steps[0].name, "send ***");
    assert.equal(journal.steps[2].targets[0].output.running, false, "false is still false");
    const files = ["journal.json", "events.jsonl", "junit.xml", "vms/a/qmp.log"];
    const written = await Promise.all(files.map((f) => Deno.readTextFile(`${report}/r/${f}`)));
    JSON.parse(written[0]!);
    const escaped = [secret, JSON.stringify(secret).slice(1, -1), "a&#60;b&#38;c"];
    for (
      const [name, output] of [
        ["plan", plan.out + plan.err],
        ["run", run.out + run.err],
        ...files.map((f, i) => [f, written[i]!]),
      ]
    ) {
      for (const form of escaped) {
        assert.ok(!output!.includes(form), `${name} shows the secret as ${form}`);
      }
    }
    const bad = await corral([
      "check",
      file,
      "--secret-var",
      "api_token=x",
      "--var",
      "use_ssh_key=nope",
    ]);
    assert.equal(bad.code, 0, bad.err);
    const quoted = await recipeFile(
      text.replace("name: s, pause", "name: s, timeout: '${{ vars.api_token }}', pause"),
    );
    const check = await corral(["check", quoted, ...vars]);
    assert.equal(check.code, 2);
    assert.match(check.err, /timeout: "\*\*\*" is not a duration/);
    await Deno.remove(quoted);
  } finally {
    await Deno.remove(file);
    await Deno.remove(report, { recursive: true });
  }
});
