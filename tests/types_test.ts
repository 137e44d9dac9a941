/**
 * Typed QMP: compile-time checks (every `@ts-expect-error` must be an error,
 * or `deno check` fails), run-time validation against QEMU 7.2's own schema,
 * and the committed types matching that QEMU.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launch, SchemaError, type StatusInfo, Vm } from "../mod.ts";
import { readSchema, render } from "../tools/gen_types.ts";
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
  assert.equal(version.qemu.major, 7);
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

Deno.test("gen-types: the committed types and reference match QEMU 7.2", async () => {
  const input = await readSchema();
  assert.match(input.version, /^7\.2\./);
  for (const [path, text] of await render(input)) {
    const committed = await Deno.readTextFile(`${root}${path}`);
    assert.ok(committed === text, `${path} is stale: run deno task gen-types`);
  }
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
