import assert from "node:assert/strict";
import { ConnectionClosedError, TimeoutError, Vm } from "../mod.ts";
import { rejectsWith, within } from "./_assert.ts";
import { spawnQemu } from "./_qemu.ts";

const pairs = [["stop", "STOP"], ["cont", "RESUME"], ["system_reset", "RESET"]] as const;
for (const [command, event] of pairs) {
  Deno.test(`waitFor(${event}): arm first, then ${command}`, async () => {
    await using qemu = await spawnQemu();
    await using vm = await Vm.connect(qemu.address);
    if (command === "cont") await vm.pause();
    const seen = vm.waitFor(event);
    await vm.execute(command);
    const found = await seen;
    assert.equal(found.event, event);
    assert.equal(typeof found.timestamp.seconds, "number");
    assert.equal(typeof found.timestamp.microseconds, "number");
  });

  Deno.test(`waitFor(${event}): ${command}, then wait (the event came before the reply)`, async () => {
    await using qemu = await spawnQemu();
    await using vm = await Vm.connect(qemu.address);
    if (command === "cont") await vm.pause();
    const before = vm.mark();
    await vm.execute(command);
    // QEMU 7.2 sends the event before the reply: it is already in the journal.
    assert.equal(vm.history(event, before).length, 1);
    const found = await vm.waitFor(event);
    assert.ok(found.seq > before);
  });
}

Deno.test("waitFor: an event from before the latest command does not satisfy the wait", async () => {
  await using qemu = await spawnQemu({ name: "old" });
  await using vm = await Vm.connect(qemu.address, { name: "old" });
  await vm.execute("stop");
  await vm.execute("cont");
  await rejectsWith(vm.waitFor("STOP", { timeout: 100 }), TimeoutError, /vm 'old': no STOP event/);
  // Passing an earlier cursor does count it; query-* commands do not move the default cursor.
  const mark = vm.mark();
  await vm.execute("stop");
  await vm.status();
  assert.equal((await vm.waitFor("STOP")).seq, mark + 1);
  assert.equal((await vm.waitFor("STOP", { since: 0 })).seq, 1);
});

Deno.test("waitFor: an event between a command and its reply; match on data", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  await vm.execute("system_reset");
  const reset = await vm.waitFor("RESET", { match: { guest: false } });
  assert.deepEqual(reset.data, { guest: false, reason: "host-qmp-system-reset" });
  await rejectsWith(
    vm.waitFor("RESET", { match: { guest: true }, timeout: 100 }),
    TimeoutError,
    /no RESET event matching \{"guest":true\}/,
  );
});

Deno.test("pause/resume/reset: resolve on their events; pausing a paused VM resolves at once", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  const start = vm.mark();
  await vm.pause();
  assert.deepEqual(vm.history(undefined, start).map((e) => e.event), ["STOP"]);
  await vm.pause();
  assert.equal(vm.history(undefined, start).length, 1, "a second stop sends no event");
  assert.equal((await vm.status()).status, "paused");
  await vm.resume();
  await vm.resume();
  assert.deepEqual(vm.history(undefined, start).map((e) => e.event), ["STOP", "RESUME"]);
  await vm.pause();
  await vm.reset();
  // A reset paused VM is left in prelaunch by QEMU; reset() runs it again.
  assert.equal((await vm.status()).status, "running");
  assert.deepEqual(
    vm.history(undefined, start).map((e) => e.event),
    ["STOP", "RESUME", "STOP", "RESET", "RESUME"],
  );
});

Deno.test("events(): an async iterable that sees every STOP and RESUME in order", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  const seen: string[] = [];
  const reading = (async () => {
    for await (const event of vm.events(["STOP", "RESUME"], { since: vm.mark() })) {
      seen.push(event.event);
      if (seen.length === 20) return;
    }
  })();
  for (let i = 0; i < 10; i++) {
    await vm.pause();
    await vm.resume();
  }
  await within(reading, 10_000, "the event reader");
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => (i % 2 ? "RESUME" : "STOP")));
});

Deno.test("quit: events before EOF are still seen, then waiters reject at once", async () => {
  await using qemu = await spawnQemu({ name: "quitter" });
  const vm = await Vm.connect(qemu.address, { name: "quitter" });
  const reader = vm.events();
  await vm.quit();
  assert.equal(vm.connected, false);
  const shutdown = await vm.waitFor("SHUTDOWN");
  assert.deepEqual(shutdown.data, { guest: false, reason: "host-qmp-quit" });
  assert.equal((await reader.next()).value?.event, "SHUTDOWN");
  await rejectsWith(reader.next(), ConnectionClosedError, /vm 'quitter': QEMU closed/);
  await rejectsWith(vm.waitFor("RESET"), ConnectionClosedError, /vm 'quitter'/);
  assert.equal((await qemu.status).code, 0);
  await vm.close();
});

Deno.test("close(): iterators end quietly, pending waits reject, QEMU keeps running", async () => {
  await using qemu = await spawnQemu();
  const vm = await Vm.connect(qemu.address);
  const reader = vm.events();
  const wait = rejectsWith(vm.waitFor("STOP"), ConnectionClosedError, /closed by the client/);
  await vm.close();
  assert.equal((await reader.next()).done, true);
  await wait;
  await using again = await Vm.connect(qemu.address);
  assert.equal((await again.status()).running, true);
});
