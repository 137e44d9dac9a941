import assert from "node:assert/strict";
import { ConnectionClosedError, EventJournal, EventsLostError, TimeoutError } from "../mod.ts";
import { rejectsWith } from "./_assert.ts";

const at = { seconds: 0, microseconds: 0 };

Deno.test("journal: a wait sees an event that came after `since` but before the wait", async () => {
  const journal = new EventJournal({ vm: "j" });
  journal.append({ event: "STOP", timestamp: at });
  const mark = journal.cursor;
  journal.append({ event: "STOP", timestamp: at });
  assert.equal((await journal.waitFor({ names: "STOP" }, { since: mark })).seq, 2);
});

Deno.test("journal: an event from before `since` does not satisfy a wait", async () => {
  const journal = new EventJournal({ vm: "j" });
  journal.append({ event: "STOP", timestamp: at });
  const error = await rejectsWith(
    journal.waitFor({ names: "STOP" }, { since: journal.cursor, timeout: 20 }),
    TimeoutError,
    /vm 'j': no STOP event within 20 ms/,
  );
  assert.equal(error.vm, "j");
});

Deno.test("journal: match filters on data; a later matching event resolves the wait", async () => {
  const journal = new EventJournal();
  const wait = journal.waitFor({ names: "GUEST_PANICKED", match: { action: "pause" } });
  journal.append({ event: "GUEST_PANICKED", data: { action: "poweroff" }, timestamp: at });
  journal.append({ event: "GUEST_PANICKED", data: { action: "pause" }, timestamp: at });
  assert.equal((await wait).seq, 2);
  const byPredicate = journal.waitFor({ match: (_data, event) => event.seq === 3 });
  journal.append({ event: "RESUME", timestamp: at });
  assert.equal((await byPredicate).event, "RESUME");
});

Deno.test("journal: close rejects waits at once, after events already in are delivered", async () => {
  const journal = new EventJournal({ vm: "j" });
  const shutdown = journal.waitFor({ names: "SHUTDOWN" });
  const never = journal.waitFor({ names: "RESET" });
  journal.append({ event: "SHUTDOWN", timestamp: at });
  journal.close(new ConnectionClosedError("gone", { vm: "j" }));
  assert.equal((await shutdown).event, "SHUTDOWN");
  await rejectsWith(never, ConnectionClosedError, /gone/);
  assert.equal((await journal.waitFor({ names: "SHUTDOWN" }, { since: 0 })).seq, 1);
  await rejectsWith(journal.waitFor({ names: "RESET" }, { since: 0 }), ConnectionClosedError);
});

Deno.test("journal: an aborted wait rejects with the signal's reason", async () => {
  const journal = new EventJournal();
  const controller = new AbortController();
  const wait = journal.waitFor({ names: "STOP" }, { signal: controller.signal });
  controller.abort(new Error("user gave up"));
  await assert.rejects(wait, /user gave up/);
});

Deno.test("journal: bounded; a wait or reader behind the ring reports lost events", async () => {
  const journal = new EventJournal({ capacity: 4, vm: "j" });
  const reader = journal.events({}, { since: 0 });
  for (let i = 0; i < 10; i++) journal.append({ event: "E", data: { i }, timestamp: at });
  assert.equal(journal.history().length, 4);
  assert.equal(journal.oldest, 7);
  await rejectsWith(journal.waitFor({}, { since: 0 }), EventsLostError, /events 1 to 6/);
  await rejectsWith(reader.next(), EventsLostError);
});

Deno.test("journal: an iterator yields in order, then ends quietly or throws per close", async () => {
  const journal = new EventJournal();
  const quiet = journal.events({ names: ["STOP", "RESUME"] }, { since: 0 });
  const loud = journal.events({}, { since: 0 });
  for (const event of ["STOP", "X", "RESUME"]) journal.append({ event, timestamp: at });
  journal.close(new ConnectionClosedError("gone"), true);
  assert.deepEqual((await Array.fromAsync(quiet)).map((e) => e.event), ["STOP", "RESUME"]);
  const other = new EventJournal();
  const throwing = other.events({}, { since: 0 });
  other.append({ event: "SHUTDOWN", timestamp: at });
  other.close(new ConnectionClosedError("gone"));
  assert.equal((await throwing.next()).value?.event, "SHUTDOWN");
  await rejectsWith(throwing.next(), ConnectionClosedError);
  await loud.return();
});
