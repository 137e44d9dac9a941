import assert from "node:assert/strict";
import { junit, summary } from "./report.ts";
import type { RunJournal, TargetRecord } from "./journal.ts";

function journal(targets: TargetRecord[], vms = targets.map((t) => t.vm)): RunJournal {
  return {
    recipe: "r",
    file: "r.yaml",
    seed: 1,
    startedAt: "2026-12-06T00:00:00.000Z",
    durationMs: 1500,
    verdict: targets.every((t) => t.status === "ok") ? "pass" : "fail",
    reason: "because",
    steps: [{
      name: "crash",
      path: "steps[0]",
      action: "nmi",
      startedAt: "",
      endedAt: "",
      startMs: 0,
      endMs: 10,
      targets,
    }],
    metrics: [],
    vms: vms.map((name, i) => ({ name, groups: [i % 2 ? "odd" : "even"] })),
  };
}

Deno.test("junit: a case per step × VM; failures, skips and allowed failures; XML-safe", () => {
  const xml = junit(journal([
    { vm: "a", status: "ok", startMs: 0, endMs: 1000 },
    { vm: "b", status: "failed", error: "boom <\x1b>" },
    { vm: "c", status: "failed", error: "fine", allowed: true },
    { vm: "d", status: "skipped" },
  ]));
  assert.match(xml, /<testsuites name="corral" tests="4" failures="1" time="1.500">/);
  assert.match(xml, /<testcase classname="r.a" name="crash" time="1.000"\/>/);
  assert.match(
    xml,
    /<testcase classname="r.b" name="crash" time="0"><failure type="failed" message="boom &#60;\\x1b&#62;"/,
  );
  assert.match(xml, /<testcase classname="r.c" name="crash" time="0"\/>/);
  assert.match(xml, /<testcase classname="r.d" name="crash" time="0"><skipped\/><\/testcase>/);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(xml, /[\x00-\x08\x0b\x0c\x0e-\x1f]/);
});

Deno.test("junit: a run that failed with no failed step (its VMs never came up) fails in junit too", () => {
  const run = { ...journal([{ vm: "a", status: "ok" }]), verdict: "error" as const };
  run.reason = "1 VM(s) could not be brought up; a: no QEMU";
  const xml = junit(run);
  assert.match(xml, /<testsuites name="corral" tests="2" failures="1"/);
  assert.match(
    xml,
    /<testcase classname="r" name="verdict" time="0"><failure type="error" message="1 VM\(s\) could not be brought up; a: no QEMU"\/>/,
  );
  assert.doesNotMatch(junit(journal([{ vm: "a", status: "ok" }])), /<testcase[^>]*name="verdict"/);
});

Deno.test("summary: a column per VM when it fits; folded by group when it does not", () => {
  const targets: TargetRecord[] = Array.from({ length: 40 }, (_, i) => ({
    vm: `vm${i}`,
    status: i === 3 ? "failed" : "ok",
  }));
  const wide = summary(journal(targets), false, { width: 10_000 });
  assert.match(wide.split("\n")[0]!, /vm0 +vm1 +vm2/);
  const folded = summary(journal(targets), false, { width: 80 });
  assert.match(folded, /40 VMs, folded by group:/);
  assert.match(folded, /odd/);
  assert.match(folded, /verdict: FAIL/);
});
