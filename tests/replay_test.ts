/** Replay (issue 10): a report's qmp.log served back as a QMP peer, so a user's bug becomes a test. */

import assert from "node:assert/strict";
import { parseRecipe, runRecipe, Vm } from "../mod.ts";
import { parseQmpLog, replay, ReplayError } from "../lib/qmp/mod.ts";
import { cli, corral, root } from "./_cli.ts";
import { spawnQemu } from "./_qemu.ts";
import { readUntil } from "./_assert.ts";

Deno.test("replay: a recorded run answers the same commands the same way, with the client's ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-replay-" });
  try {
    const recipe = parseRecipe(
      "recipe: 1\nname: rec\nvms: { a: { guest: none } }\nsteps:\n" +
        "  - { name: p, pause: {} }\n  - { name: q, qmp: { execute: query-name } }\n" +
        "  - { name: r, resume: {} }\n",
      "rec.yaml",
    );
    await runRecipe(recipe, { reportDir: `${dir}/report`, seed: 1 });
    const log = await Deno.readTextFile(`${dir}/report/vms/a/qmp.log`);
    const recorded = parseQmpLog(log);
    const replies = new Map(
      recorded.filter((r) => r.direction === "<-" && "id" in r.message).map((r) => [
        r.message.id,
        r.message,
      ]),
    );
    await using peer = await replay(log, `${dir}/replay.sock`);
    const vm = await Vm.connect(peer.address, { name: "a" });
    // Send what the run sent (negotiation aside), with this client's own ids.
    const requests = recorded.filter((r) => r.direction === "->").slice(1);
    for (const { message } of requests) {
      const command = message.execute as string;
      const args = message.arguments as Record<string, unknown> | undefined;
      const reply = replies.get(message.id)!;
      if ("return" in reply) assert.deepEqual(await vm.executeUntyped(command, args), reply.return);
      else await assert.rejects(vm.executeUntyped(command, args));
    }
    assert.ok(requests.some((r) => r.message.execute === "query-name"));
    assert.equal(vm.history("STOP").length, 1);
    await vm.close();
    const outcome = await peer.done;
    assert.deepEqual(outcome.mismatches, []);
    assert.equal(outcome.matched, requests.length + 1);
    assert.equal(outcome.complete, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: a log that is not a recording is a located ReplayError; the CLI serves one", async () => {
  assert.throws(() => parseQmpLog("2026-01-01T00:00:00Z <- {not json\n"), ReplayError);
  await assert.rejects(replay("", "/tmp/never.sock"), ReplayError);
  const help = await corral(["replay", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: corral replay QMP_LOG/);
});

const GREETING_LINE = '2026-01-01T00:00:00.000Z <- {"QMP": {"version": {}, "capabilities": []}}';

Deno.test("replay: --socket never removes what is there (a running QEMU's monitor answers on)", async () => {
  await using qemu = await spawnQemu();
  const log = await Deno.makeTempFile({ suffix: ".log" });
  try {
    await Deno.writeTextFile(log, GREETING_LINE + "\n");
    const socket = qemu.address.slice("unix:".length);
    const result = await corral(["replay", log, "--socket", socket]);
    assert.equal(result.code, 2, result.out + result.err);
    assert.match(result.err, /exists: corral replay does not remove what it did not create/);
    await using vm = await Vm.connect(qemu.address);
    assert.equal((await vm.status()).status, "running");
  } finally {
    await Deno.remove(log);
  }
});

Deno.test("replay: a log line that is not an object is a located error; CRLF logs replay; a client's invalid JSON is answered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-replay-" });
  try {
    await Deno.writeTextFile(
      `${dir}/null.log`,
      `${GREETING_LINE}\n2026-01-01T00:00:00.001Z <- null\n`,
    );
    const bad = await corral(["replay", `${dir}/null.log`]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /qmp.log line 2 is not a QMP message/);
    assert.doesNotMatch(bad.err, /\s+at /, "no stack trace");

    const crlf = [
      GREETING_LINE,
      '2026-01-01T00:00:00.001Z -> {"execute": "qmp_capabilities", "id": 1}',
      '2026-01-01T00:00:00.002Z <- {"return": {}, "id": 1}',
      '2026-01-01T00:00:00.003Z -> {"execute": "query-name", "id": 2}',
      '2026-01-01T00:00:00.004Z <- {"return": {"name": "crlf"}, "id": 2}',
    ].join("\r\n") + "\r\n";
    await using peer = await replay(crlf, `${dir}/r.sock`);
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/r.sock` });
    const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
    const writer = conn.writable.getWriter();
    try {
      const send = (text: string) => writer.write(new TextEncoder().encode(text));
      await readUntil(reader, "QMP", 10_000, "greeting");
      await send('{"execute": "qmp_capabilities", "id": 7}');
      await readUntil(reader, '"id":7', 10_000, "negotiation");
      await send("{not json}");
      await readUntil(reader, "JSON parse error", 10_000, "a parse error");
      await send('{"execute": "query-name", "id": 8}');
      await readUntil(reader, '"name":"crlf"', 10_000, "the recorded reply");
    } finally {
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
    }
    const outcome = await peer.done;
    assert.equal(outcome.matched, 2);
    assert.equal(outcome.mismatches.length, 1);
    assert.match(outcome.mismatches[0]!, /not JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay: Ctrl-C leaves no socket or directory behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-replay-int-" });
  try {
    await Deno.writeTextFile(`${dir}/g.log`, GREETING_LINE + "\n");
    await Deno.mkdir(`${dir}/tmp`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "replay", `${dir}/g.log`],
      cwd: root,
      env: { TMPDIR: `${dir}/tmp`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await readUntil(reader, "Ctrl-C to stop", 30_000, "serving");
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* the rest of its output */ }
    const { code } = await child.status;
    const err = await new Response(child.stderr).text();
    assert.equal(code, 130, err);
    assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
