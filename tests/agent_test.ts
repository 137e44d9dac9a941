/**
 * The guest agent client and `corral shell --agent`, against a real
 * qemu-ga (Debian's qemu-guest-agent, run on this host on a unix socket:
 * the same protocol as inside a guest).
 */

import assert from "node:assert/strict";
import { GuestAgent, QmpError } from "../mod.ts";
import { delay } from "../lib/_async.ts";
import { rejectsWith } from "./_assert.ts";
import { corralWithInput } from "./_cli.ts";

interface RunningAgent extends AsyncDisposable {
  address: string;
  path: string;
}

/** Start qemu-ga listening on a private unix socket. */
async function startAgent(): Promise<RunningAgent> {
  const dir = await Deno.makeTempDir({ prefix: "corral-qga-" });
  const path = `${dir}/qga.sock`;
  const child = new Deno.Command("qemu-ga", {
    args: ["-m", "unix-listen", "-p", path, "-t", dir, "-F/dev/null"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    if (await Deno.stat(path).then(() => true, () => false)) break;
    await delay(25);
  }
  return {
    address: `unix:${path}`,
    path,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("agent: sync skips what an earlier client left in the channel; commands answer in order", async () => {
  await using qga = await startAgent();
  // An earlier client asks, and leaves before its answer; another leaves half a request.
  const stale = await Deno.connect({ transport: "unix", path: qga.path });
  await stale.write(new TextEncoder().encode('{"execute": "guest-info"}\n{"execute": "guest-pi'));
  stale.close();
  await using agent = await GuestAgent.connect(qga.address, { name: "g" });
  assert.deepEqual(await agent.execute("guest-ping"), {});
  const info = await agent.execute("guest-info") as { version: string };
  assert.match(info.version, /^\d+\.\d+/);
  const error = await rejectsWith(
    agent.execute("guest-nonsense"),
    QmpError,
    /vm 'g': guest-nonsense failed: CommandNotFound/,
  );
  assert.equal(error.qmpClass, "CommandNotFound");
  assert.deepEqual(await agent.execute("guest-ping"), {}, "the channel goes on after an error");
});

Deno.test("shell --agent: help lists the agent's own commands; a script runs against it and stops at an error", async () => {
  await using qga = await startAgent();
  const { code, out, err } = await corralWithInput(
    ["shell", "--agent", qga.address],
    "guest-ping\nhelp\nguest-nope\nguest-ping\n",
  );
  assert.equal(code, 1, "the unknown command ends the script");
  assert.match(out, /^\{\}\nagent commands: .*guest-ping/);
  assert.match(err, /the agent has no enabled command guest-nope/);
  assert.equal(out.trim().split("\n").length, 2, "nothing ran after the error");
});
