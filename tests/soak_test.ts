/** A small chaos soak inside the suite (the large one is `deno task soak --vms 280`). */

import assert from "node:assert/strict";
import { soak } from "../bench/_soak.ts";

Deno.test("soak: killed VMs fail fast, stopped ones time out, the rest answer; nothing is left", async () => {
  const report = await soak({ vms: 12, rounds: 2, kill: 2, stop: 2, timeout: 500 });
  assert.equal(report.rounds.length, 2);
  for (const round of report.rounds) {
    assert.deepEqual(round.surprises, []);
    assert.equal(round.killedFailedFast, 2);
    assert.equal(round.stoppedTimedOut, 2);
    assert.equal(round.healthyOk, 8);
  }
  assert.deepEqual(report.leftovers, { dirs: [], processes: [] });
});
