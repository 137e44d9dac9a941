/**
 * A hostile guest agent (issue 20): a flood while corral is idle costs a
 * bounded buffer, and control characters in what it says never reach a
 * terminal or a JUnit file raw.
 */

import assert from "node:assert/strict";
import { GuestAgent, launch } from "../mod.ts";
import { fakeAgent } from "./_fake_agent.ts";
import { corral, recipeFile } from "./_cli.ts";

Deno.test("hostile agent: a 64 MiB flood while idle is discarded past the bound and counted; the next command syncs and works", async () => {
  await using fake = await fakeAgent((command) =>
    command === "guest-ping" ? { return: {} } : undefined
  );
  await using agent = await GuestAgent.connect(fake.address, { name: "flood" });
  const junk = new Uint8Array(1024 * 1024).fill(0x41); // no line end, no sync byte
  for (let i = 0; i < 64; i++) await fake.send(junk);
  // The sync's reply comes after the flood on the stream: once ping answers, all of it was read.
  assert.deepEqual(await agent.execute("guest-ping"), {});
  assert.ok(agent.discarded >= 48 * 1024 * 1024, `discarded ${agent.discarded}`);
  assert.ok(agent.buffered <= 16 * 1024 * 1024 + 64 * 1024, `buffered ${agent.buffered}`);
});

Deno.test("hostile agent: ESC, BEL and NUL in its error reach neither the terminal nor junit.xml raw", async () => {
  const hostile = "\x1b]0;pwned\x07\x1b[2J\x00 gone";
  await using fake = await fakeAgent((command) =>
    command === "guest-exec" ? { error: { class: "GenericError", desc: hostile } } : undefined
  );
  await using vm = await launch({ name: "hostile-agent", guest: "none" });
  await vm.close(); // the recipe attaches to its monitor
  const report = await Deno.makeTempDir({ prefix: "corral-hostile-" });
  const file = await recipeFile(
    `recipe: 1\nname: hostile\nvms:\n  a: { attach: "unix:${vm.dir}/qmp.sock", agent: "${fake.address}" }\n` +
      `steps:\n  - { name: run, agent: { exec: "true" } }\n`,
  );
  try {
    const result = await corral(["run", file, "--report", `${report}/r`, "--force"]);
    assert.equal(result.code, 1, result.out + result.err);
    assert.match(result.out, /\\x1b\]0;pwned\\x07\\x1b\[2J\\x00 gone/, "shown, escaped");
    // deno-lint-ignore no-control-regex
    const controls = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
    assert.doesNotMatch(result.out + result.err, controls);
    const junit = await Deno.readTextFile(`${report}/r/junit.xml`);
    assert.doesNotMatch(junit, controls, "junit.xml is valid XML");
    assert.match(junit, /pwned/);
  } finally {
    await Deno.remove(file);
    await Deno.remove(report, { recursive: true });
  }
});
