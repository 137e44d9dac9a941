/**
 * Faults QEMU cannot produce on demand, played by a scripted peer: garbage,
 * an oversize line, a missing greeting, a cut in the middle of a message.
 */

import assert from "node:assert/strict";
import { ConnectionClosedError, MonitorBusyError, ProtocolError, QmpClient, Vm } from "../mod.ts";
import { rejectsWith, within } from "./_assert.ts";
import { fakePeer, GREETING } from "./_qemu.ts";

const OK = (id: number) => `{"return": {}, "id": ${id}}\r\n`;

Deno.test("fake peer: garbage instead of a greeting is a ProtocolError", async () => {
  await using peer = await fakePeer([{ send: "\x00\xffnot json at all\r\n" }, { hang: true }]);
  await rejectsWith(
    Vm.connect(peer.address, { name: "junk" }),
    ProtocolError,
    /vm 'junk': QEMU sent bytes that are not JSON/,
  );
});

Deno.test("fake peer: a greeting of the wrong shape is a ProtocolError", async () => {
  await using peer = await fakePeer([{ send: '{"QMP": {"version": 7}}\r\n' }, { hang: true }]);
  await rejectsWith(Vm.connect(peer.address), ProtocolError, /malformed greeting/);
});

Deno.test("fake peer: no greeting at all is a MonitorBusyError at the deadline", async () => {
  await using peer = await fakePeer([{ hang: true }]);
  const error = await rejectsWith(Vm.connect(peer.address, { timeout: 200 }), MonitorBusyError);
  assert.ok(error instanceof ProtocolError);
});

Deno.test("fake peer: EOF before the greeting is a ConnectionClosedError", async () => {
  await using peer = await fakePeer([{ close: true }]);
  await rejectsWith(
    Vm.connect(peer.address, { name: "early" }),
    ConnectionClosedError,
    /before its greeting/,
  );
});

Deno.test("fake peer: an oversize line fails pending commands, never buffers forever", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: OK(1) },
    { read: true },
    { send: `{"return": "${"x".repeat(5000)}` },
    { hang: true },
  ]);
  const vm = await Vm.connect(peer.address, { name: "big", maxMessageBytes: 1024 });
  const error = await rejectsWith(
    within(vm.execute("query-status"), 5000, "the command"),
    ConnectionClosedError,
    /longer than 1024 bytes/,
  );
  assert.ok(error.cause instanceof ProtocolError);
  await vm.close();
});

Deno.test("fake peer: a cut in the middle of a reply fails the command at once", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: OK(1) },
    { read: true },
    { send: '{"return": {"status": "runn' },
    { close: true },
  ]);
  const vm = await Vm.connect(peer.address, { name: "cut" });
  await rejectsWith(
    within(vm.execute("query-status"), 5000, "the command"),
    ConnectionClosedError,
    /vm 'cut': the QMP connection broke: the connection ended in the middle of a message/,
  );
  await vm.close();
});

Deno.test("fake peer: garbage after negotiation fails pending work with the cause", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: OK(1) },
    { read: true },
    { send: "}}}garbage{{{\r\n" },
    { hang: true },
  ]);
  const vm = await Vm.connect(peer.address, { name: "g" });
  const waiter = vm.waitFor("STOP");
  await rejectsWith(vm.execute("stop"), ConnectionClosedError, /not JSON/);
  await rejectsWith(waiter, ConnectionClosedError);
  await vm.close();
});

Deno.test("fake peer: events during negotiation and unknown events pass through intact", async () => {
  const strange = '{"event": "FUTURE_EVENT", "data": {"new": [1, {"x": null}]}, ' +
    '"timestamp": {"seconds": 5, "microseconds": 6}}\r\n';
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: strange + OK(1) },
    { hang: true },
  ]);
  await using client = await QmpClient.connect(peer.address);
  assert.deepEqual(client.journal.history(), [{
    event: "FUTURE_EVENT",
    data: { new: [1, { x: null }] },
    timestamp: { seconds: 5, microseconds: 6 },
    seq: 1,
  }]);
  assert.deepEqual(JSON.parse(peer.received[0]!), {
    execute: "qmp_capabilities",
    arguments: { enable: ["oob"] },
    id: 1,
  });
});

Deno.test("fake peer: a reply to an id never sent is dropped and traced; the connection goes on", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true },
    { send: OK(1) },
    { read: true },
    {
      send:
        `{"return": {"stray": true}, "id": 999}\r\n{"return": {"status": "running"}, "id": 2}\r\n`,
    },
    { hang: true },
  ]);
  const seen: string[] = [];
  const vm = await Vm.connect(peer.address, {
    name: "stray",
    trace: (direction, message) => seen.push(`${direction} ${message}`),
  });
  assert.deepEqual(await within(vm.executeUntyped("query-status"), 5000, "the reply"), {
    status: "running",
  });
  assert.ok(vm.connected);
  assert.ok(seen.some((line) => line.includes('"id": 999')), "the stray reply is in the trace");
  assert.ok(seen[0]!.startsWith('<- {"QMP"'), "the trace starts at the greeting");
  await vm.close();
});

Deno.test("fake peer: a qmp_capabilities left unanswered is sent again; 'already complete' counts as done", async () => {
  await using peer = await fakePeer([
    { send: GREETING },
    { read: true }, // the first qmp_capabilities: no answer
    { read: true }, // the second, 3 s later
    {
      send:
        '{"error": {"class": "CommandNotFound", "desc": "Capabilities negotiation is already complete, command ignored"}, "id": 2}\r\n',
    },
    { read: true },
    { send: '{"return": {"status": "running"}, "id": 3}\r\n' },
    { hang: true },
  ]);
  const client = await QmpClient.connect(peer.address, { name: "slow-negotiation" });
  assert.equal(client.negotiationRetries, 1);
  assert.deepEqual(await client.execute("query-status"), { status: "running" });
  await client.close();
});
