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

Deno.test("drill: recipes/disk-failure-drill.yaml — the guest's writes fail while the disk does, QEMU reports it, the writer carries on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-drill-" });
  try {
    const run = await corral([
      "run",
      `${root}recipes/disk-failure-drill.yaml`,
      "--report",
      dir,
      "--force",
    ]);
    assert.equal(run.code, 0, run.out + run.err);
    const journal: RunJournal = JSON.parse(await Deno.readTextFile(`${dir}/journal.json`));
    assert.equal(journal.verdict, "pass", journal.reason);
    const attempts = journal.probes!.find((p) => p.name === "writes")!.attempts;
    const fault = journal.steps.find((s) => s.name === "the disk fails")!;
    const healed = journal.steps.find((s) => s.name === "undo the disk fails")!;
    // A write takes up to 0.5 s to show in the log: attempts from 1 s into the fault on saw it fail.
    const inside = attempts.filter((a) =>
      a.startMs > fault.endMs + 1000 && a.endMs < healed.startMs
    );
    assert.ok(inside.length >= 3 && inside.every((a) => !a.ok), JSON.stringify(inside));
    assert.ok(attempts.filter((a) => a.startMs < fault.startMs).every((a) => a.ok));
    assert.ok(attempts.at(-1)!.ok, "the writer carried on");
    const outage = journal.metrics.find((m) => m.name === "outage")!;
    assert.ok(outage.values.db! >= 4000, `the outage was ${outage.values.db} ms`);
    const errors = (await Deno.readTextFile(`${dir}/events.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line)).filter((e) => e.event === "BLOCK_IO_ERROR");
    assert.ok(errors.length > 0 && errors.every((e) => e.vm === "db"), JSON.stringify(errors));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
