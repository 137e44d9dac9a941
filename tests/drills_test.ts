/** The shipped fault drills, run as a user runs them (issue 22). */

import assert from "node:assert/strict";
import { corral, root } from "./_cli.ts";
import type { RunJournal } from "../mod.ts";

Deno.test("drill: recipes/partition-drill.yaml — the probe fails while the server is cut off, recovers after, and nothing else noticed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-drill-" });
  try {
    const run = await corral([
      "run",
      `${root}recipes/partition-drill.yaml`,
      "--report",
      dir,
      "--force",
    ]);
    assert.equal(run.code, 0, run.out + run.err);
    const journal: RunJournal = JSON.parse(await Deno.readTextFile(`${dir}/journal.json`));
    assert.equal(journal.verdict, "pass", journal.reason);
    const attempts = journal.probes!.find((p) => p.name === "web")!.attempts;
    const cut = journal.steps.find((s) => s.name === "cut the server off")!;
    const healed = journal.steps.find((s) => s.name === "undo cut the server off")!;
    // Every attempt wholly inside the partition failed; every one after the heal had begun passed once recovered.
    const inside = attempts.filter((a) => a.startMs > cut.endMs + 100 && a.endMs < healed.startMs);
    assert.ok(inside.length >= 3 && inside.every((a) => !a.ok), JSON.stringify(inside));
    assert.ok(attempts.filter((a) => a.startMs < cut.startMs).every((a) => a.ok));
    const outage = journal.metrics.find((m) => m.name === "outage")!;
    assert.ok(outage.values.client! >= 4500, `the outage was ${outage.values.client} ms`);
    const pcap = await Deno.stat(`${dir}/lan.pcap`);
    assert.ok(pcap.size > 1000, "the capture holds the drill's frames");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
