import assert from "node:assert/strict";
import { MemoryBudget } from "./admission.ts";

Deno.test("memory budget: a run waits until it fits beside what is held, never past the budget; one alone may exceed it", async () => {
  const budget = new MemoryBudget(1000);
  const a = await budget.admit(600);
  assert.equal(a.held, 600);
  let admitted = false;
  const b = budget.admit(600).then((got) => (admitted = true, got));
  await Promise.resolve();
  assert.equal(admitted, false, "600 + 600 > 1000: it waits");
  assert.equal(budget.held, 600);
  a.release();
  assert.equal((await b).held, 600);
  (await b).release();
  const alone = await budget.admit(5000); // nothing runs: else it would never run
  assert.equal(alone.held, 5000);
  alone.release();
  alone.release(); // twice is once
  assert.equal(budget.held, 0);
});

Deno.test("memory budget: an abort ends the wait", async () => {
  const budget = new MemoryBudget(100);
  const held = await budget.admit(100);
  const abort = new AbortController();
  const waiting = budget.admit(50, abort.signal);
  abort.abort();
  await assert.rejects(waiting);
  held.release();
});
