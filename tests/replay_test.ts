/** Replay (issue 10): a report's qmp.log served back as a QMP peer, so a user's bug becomes a test. */

import assert from "node:assert/strict";
import { parseQmpLog, parseRecipe, replay, ReplayError, runRecipe, Vm } from "../mod.ts";
import { corral } from "./_cli.ts";

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
