/**
 * Typed QMP: compile-time checks (every `@ts-expect-error` must be an error,
 * or `deno check` fails), run-time validation against the QEMU under test,
 * the committed types matching what the generator makes of the committed
 * schemas, and the QEMU under test matching its committed schema.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launch, parseRecipe, runRecipe, SchemaError, type StatusInfo, Vm } from "../mod.ts";
import { corral } from "./_cli.ts";
import { QAPI_QEMU_RELEASES } from "../lib/qmp/qapi.ts";
import { committedSchemas, readSchema, render, schemaPath } from "../tools/gen_types.ts";
import { rejectsWith, within } from "./_assert.ts";
import { fakePeer, GREETING } from "./_qemu.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Never called: its body only has to type-check. */
async function typeChecks(vm: Vm): Promise<void> {
  const status: StatusInfo = await vm.execute("query-status");
  const running: boolean = status.running;
  // @ts-expect-error a misspelt command name
  await vm.execute("query-stauts");
  await vm.execute("set-action", { panic: "pause" });
  // @ts-expect-error a misspelt member
  await vm.execute("set-action", { panik: "pause" });
  // @ts-expect-error an enum value QEMU does not have
  await vm.execute("set-action", { panic: "explode" });
  // @ts-expect-error a required argument is missing
  await vm.execute("human-monitor-command");
  const output: string = await vm.execute("human-monitor-command", { "command-line": "info" });
  const panic = await vm.waitFor("GUEST_PANICKED", { match: { action: "pause" } });
  const action: "pause" | "poweroff" | "run" = panic.data.action;
  const kind: string | undefined = panic.data.info?.type;
  // @ts-expect-error a misspelt event name
  await vm.waitFor("GUEST_PANICKD");
  // @ts-expect-error match on a value the event's data cannot have
  await vm.waitFor("GUEST_PANICKED", { match: { action: "explode" } });
  for await (const event of vm.events(["STOP", "RESET"])) {
    if (event.event === "RESET") {
      const guest: boolean = event.data.guest;
      void guest;
    }
  }
  // The escape hatch takes anything.
  await vm.executeUntyped("x-command-from-a-newer-qemu", { anything: [1, 2] });
  void [running, output, action, kind];
}
void typeChecks;

Deno.test("types: typed returns at run time match what QEMU sends", async () => {
  await using vm = await launch({ name: "typed", guest: "none" });
  const status = await vm.execute("query-status");
  assert.equal(status.status, "running");
  await vm.execute("set-action", { panic: "pause" });
  const version = await vm.execute("query-version");
  assert.equal(version.qemu.major, vm.qemuVersion.major);
  // No member the types require is missing from what this QEMU sends.
  assert.equal(typeof status.running, "boolean");
});

Deno.test("schema: validate names the bad member, the expected type, and suggests", async () => {
  await using vm = await launch({ name: "checked", guest: "none" });
  const schema = await vm.schema();
  assert.equal(await vm.schema(), schema, "the schema is fetched once");
  assert.ok(schema.commands.length > 200 && schema.events.includes("GUEST_PANICKED"));
  assert.deepEqual(schema.check("set-action", { panic: "pause" }), []);
  assert.deepEqual(schema.check("set-action", { panik: "pause" }), [
    `set-action: unknown member 'panik'; did you mean "panic"?`,
  ]);
  assert.deepEqual(schema.check("human-monitor-command", { "command-line": 5 }), [
    "human-monitor-command: command-line: 5 is not a str",
    // cpu-index is optional: only the bad type is reported.
  ]);
  assert.deepEqual(schema.check("human-monitor-command", {}), [
    "human-monitor-command: missing member 'command-line' (str)",
  ]);
  assert.deepEqual(schema.check("query-stauts"), [
    `query-stauts: no such command in this QEMU; did you mean "query-status" or "query-stats"?`,
  ]);
  const error = await rejectsWith(
    vm.validate("set-action", { panic: "explode", reboot: 1 }),
    SchemaError,
    /^vm 'checked': set-action does not fit this QEMU's schema:\n {2}set-action: reboot: 1 is not one of reset, shutdown/,
  );
  assert.equal(error.problems.length, 2);
  await vm.validate("query-status");
});

Deno.test("schema: nested objects, arrays and unions are checked through", async () => {
  await using vm = await launch({ name: "deep", guest: "none" });
  const schema = await vm.schema();
  assert.deepEqual(
    schema.check("blockdev-add", { driver: "null-co", "node-name": "n0", size: "big" }),
    ['blockdev-add: size: "big" is not an int'],
  );
  assert.deepEqual(schema.check("blockdev-add", { driver: "null-co", "node-name": "n0" }), []);
  const [problem, ...more] = schema.check("blockdev-add", { driver: "nope" });
  assert.match(
    problem ?? "",
    /^blockdev-add: driver: "nope" is not one of blkdebug, .*null-co.*, vvfat$/,
  );
  assert.deepEqual(more, []);
  assert.deepEqual(schema.check("blockdev-add", { driver: "qcow2", "node-name": "q", file: 5 }), [
    "blockdev-add: file: 5 is not object or str",
  ]);
});

Deno.test("gen-types: the committed types and reference are what the committed schemas make", async () => {
  const inputs = await committedSchemas();
  assert.deepEqual(inputs.map((i) => i.version.split(".").slice(0, 2).join(".")), [
    ...QAPI_QEMU_RELEASES,
  ]);
  for (const [path, text] of await render(inputs)) {
    const committed = await Deno.readTextFile(`${root}${path}`);
    assert.ok(committed === text, `${path} is stale: run deno task gen-types`);
  }
});

Deno.test("gen-types: the QEMU under test is a supported release with its schema committed", async () => {
  const live = await readSchema(Deno.env.get("CORRAL_QEMU"));
  const path = schemaPath(live);
  const committed = JSON.parse(
    await Deno.readTextFile(`${root}${path}`).catch(() => "null"),
  );
  assert.ok(committed, `no ${path}: add it with deno task gen-types --add --qemu BINARY`);
  assert.deepEqual(
    committed.entries,
    live.entries,
    `${path} differs from QEMU ${live.version}: run deno task gen-types --add`,
  );
});

Deno.test("versions: vm.qemuVersion and vm.supports come from the VM's own QEMU", async () => {
  await using vm = await launch({ name: "versions", guest: "none" });
  const live = await vm.execute("query-version");
  assert.deepEqual(
    [vm.qemuVersion.major, vm.qemuVersion.minor, vm.qemuVersion.micro],
    [live.qemu.major, live.qemu.minor, live.qemu.micro],
  );
  assert.ok(await vm.supports("set-action", "panic"));
  assert.equal(await vm.supports("set-action", "panik"), false);
  assert.equal(await vm.supports("query-stauts"), false);
  // Measured differences between the supported releases (shared/qemu-versions.md).
  const modern = vm.qemuVersion.major >= 10;
  assert.equal(await vm.supports("migrate", "channels"), modern);
  assert.equal(await vm.supports("migrate", "blk"), !modern);
  assert.equal("singlestep" in await vm.status(), !modern);
});

Deno.test("unknown events reach vm.events() intact", async () => {
  const future = '{"event": "FUTURE_EVENT", "data": {"new": {"deep": [1, null]}}, ' +
    '"timestamp": {"seconds": 1, "microseconds": 2}}\r\n';
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: '{"return": {}, "id": 1}\r\n' + future },
    { hang: true },
  ]);
  await using vm = await Vm.connect(peer.address);
  const { value } = await within(vm.events().next(), 10_000, "the first event");
  assert.deepEqual(value, {
    event: "FUTURE_EVENT",
    data: { new: { deep: [1, null] } },
    timestamp: { seconds: 1, microseconds: 2 },
    seq: 1,
  });
});

Deno.test("versions: a qmp step the VM's QEMU lacks fails before sending, naming the release; check --live names the version", async () => {
  const probe = await launch({ name: "probe", guest: "none" });
  const modern = probe.qemuVersion.major >= 10;
  const release = probe.qemuVersion.release;
  await probe.dispose();
  // Each is missing from the QEMU under test: migrate's blk went in 9.1, channels came in 8.2.
  const member = modern ? "blk" : "channels";
  const command = modern ? "x-query-rdma" : "query-migrationthreads";
  const text = "recipe: 1\nname: v\nvms: { a: { guest: none } }\nsteps:\n" +
    `  - { name: arg, qmp: { execute: migrate, arguments: { uri: "exec:true", ${member}: [] } }, continue-on-error: true }\n` +
    `  - { name: cmd, qmp: { execute: ${command} }, continue-on-error: true }\n`;
  const { journal } = await runRecipe(parseRecipe(text, "v.yaml"), { seed: 1 });
  const errors = journal.steps.map((step) => step.targets[0]!.error);
  assert.deepEqual(errors, [
    `vm 'a': QEMU ${release} has no argument '${member}' for migrate; nothing was sent`,
    `vm 'a': QEMU ${release} has no command ${command}; nothing was sent`,
  ]);
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, text);
    const live = await corral(["check", file, "--live"]);
    assert.equal(live.code, 2);
    assert.match(live.err, new RegExp(`unknown member '${member}'.*\\(QEMU ${release}\\.\\d+\\)`));
    assert.match(
      live.err,
      new RegExp(`${command}: no such command in this QEMU.*\\(QEMU ${release}\\.\\d+\\)`),
    );
  } finally {
    await Deno.remove(file);
  }
});
