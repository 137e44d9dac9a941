import assert from "node:assert/strict";
import type { MetricRecord, ReportEvent, RunJournal, StepRecord } from "../journal.ts";
import { compareRuns, type RunRecord } from "./compare.ts";

const TOLERANCE = { relative: 0.2, absolute: 5 };

function run(
  name: string,
  parts: {
    steps?: StepRecord[];
    events?: ReportEvent[];
    metrics?: MetricRecord[];
    verdict?: string;
  },
): RunRecord {
  const journal = {
    verdict: parts.verdict ?? "pass",
    reason: "",
    steps: parts.steps ?? [],
    metrics: parts.metrics ?? [],
  } as unknown as RunJournal;
  return { name, journal, events: parts.events ?? [] };
}

const step = (name: string, targets: { vm: string; status: string; output?: unknown }[]) =>
  ({ name, path: `steps[${name}]`, action: "qmp", targets }) as unknown as StepRecord;
const event = (vm: string, name: string, data?: unknown): ReportEvent => ({
  ms: Math.random() * 1000, // times never count
  vm,
  event: name,
  data,
});

Deno.test("compare: steps by outcome and reply shape, not by value", () => {
  const a = run("A", {
    steps: [
      step("status", [{ vm: "x", status: "ok", output: { status: "running", singlestep: false } }]),
      step("poke", [{ vm: "x", status: "ok" }, { vm: "y", status: "ok" }]),
      step("gone", [{ vm: "x", status: "ok" }]),
    ],
  });
  const b = run("B", {
    steps: [
      step("status", [{ vm: "x", status: "ok", output: { status: "paused" } }]),
      step("poke", [{ vm: "x", status: "failed" }, { vm: "y", status: "ok" }]),
    ],
    verdict: "fail",
  });
  assert.deepEqual(
    compareRuns([a], [b], TOLERANCE).map((d) => `${d.kind} | ${d.where} | ${d.what}`),
    [
      "verdict | the run | pass in A, fail in B",
      "reply | step 'status' on x | reply.singlestep: only in A (boolean)",
      "step | step 'poke' on x | ok in A, failed in B",
      "step | step 'gone' | ran only in A",
    ],
  );
  assert.deepEqual(compareRuns([a], [a], TOLERANCE), []);
});

Deno.test("compare: events in order by name and data shape; repeats in a row count once", () => {
  const a = run("A", {
    events: [
      event("x", "STOP"),
      event("x", "RESET", { guest: true }),
      event("x", "RESET", { guest: true }),
      event("x", "RESUME"),
      event("y", "SHUTDOWN", { guest: false, reason: "host-qmp-quit" }),
    ],
  });
  const b = run("B", {
    events: [
      event("x", "RESET", { guest: true }),
      event("x", "RESUME"),
      event("x", "POWERDOWN"),
      event("y", "SHUTDOWN", { guest: false }),
    ],
  });
  assert.deepEqual(compareRuns([a], [b], TOLERANCE).map((d) => `${d.where}: ${d.what}`), [
    "events of x: STOP (1st) only in A",
    "events of x: POWERDOWN (3rd) only in B",
    "events of y: SHUTDOWN (1st) data.reason: only in A (string)",
  ]);
});

Deno.test("compare: repeated runs — a difference counts when every pairing shows it", () => {
  const flaky = run("B", { events: [event("x", "STOP"), event("x", "RTC_CHANGE")] });
  const steady = run("B", { events: [event("x", "STOP")] });
  const a = run("A", { events: [event("x", "STOP")] });
  assert.equal(compareRuns([a, a], [flaky, steady], TOLERANCE).length, 0);
  assert.equal(compareRuns([a, a], [flaky, flaky], TOLERANCE).length, 1);
});

Deno.test("compare: metrics by their ranges over the runs, beyond the tolerance", () => {
  const metric = (values: Record<string, number>, pass = true): MetricRecord => ({
    name: "recovery",
    values,
    max: 1000,
    pass,
  });
  const on = (name: string, ...values: Record<string, number>[]) =>
    values.map((v) => run(name, { metrics: [metric(v)] }));
  const found = (a: RunRecord[], b: RunRecord[]) =>
    compareRuns(a, b, TOLERANCE).map((d) => `${d.where}: ${d.what}`);
  // 100 vs 118: within 20 %; 100 vs 300: not; 2 vs 4 ms: noise.
  assert.deepEqual(found(on("A", { x: 100, y: 2 }), on("B", { x: 118, y: 4 })), []);
  assert.deepEqual(found(on("A", { x: 100 }), on("B", { x: 300 })), [
    "metric recovery on x: 100 ms in A, 300 ms in B (67 % apart, over 20 %)",
  ]);
  // Ranges that overlap are the same; ranges apart are compared by their gap.
  assert.deepEqual(found(on("A", { x: 150 }, { x: 290 }), on("B", { x: 280 }, { x: 220 })), []);
  assert.deepEqual(found(on("A", { x: 100 }, { x: 120 }), on("B", { x: 300 }, { x: 280 })), [
    "metric recovery on x: 100–120 ms in A, 280–300 ms in B (53 % apart, over 20 %)",
  ]);
  assert.deepEqual(found(on("A", { x: 100 }), on("B", {})), [
    "metric recovery on x: measured only in A",
  ]);
  const failing = [run("B", { metrics: [metric({ x: 100 }, false)] })];
  assert.deepEqual(found(on("A", { x: 100 }), failing), [
    "metric recovery: within its bound in A, out of its bound in B",
  ]);
});
