import assert from "node:assert/strict";
import { judge, type VerdictInput } from "./verdict.ts";
import type { MetricRecord, StepRecord, TargetRecord } from "./journal.ts";

function step(name: string, ...targets: TargetRecord[]): StepRecord {
  return {
    name,
    path: "steps[0]",
    action: "qmp",
    startedAt: "",
    endedAt: "",
    startMs: 0,
    endMs: 1,
    targets,
  };
}

const ok = (vm: string): TargetRecord => ({ vm, status: "ok" });
const base: VerdictInput = {
  steps: [],
  metrics: [],
  baselineFailed: false,
  untargeted: [],
  acted: true,
};
const verdict = (input: Partial<VerdictInput>) => judge({ ...base, ...input });

Deno.test("verdict: pass only when something ran and nothing failed", () => {
  assert.deepEqual(verdict({ steps: [step("s", ok("a"))] }), {
    verdict: "pass",
    reason: "every step passed on every VM",
  });
  const metric: MetricRecord = { name: "recovery", values: { a: 10 }, max: 100, pass: true };
  assert.match(
    verdict({ steps: [step("s", ok("a"))], metrics: [metric] }).reason,
    /metrics within/,
  );
  assert.deepEqual(verdict({ acted: false }), {
    verdict: "unknown",
    reason: "no step ran on any VM",
  });
});

Deno.test("verdict: failures fail, an allowed one does not; broken infrastructure is an error", () => {
  const failed: TargetRecord = { vm: "b", status: "failed" };
  assert.deepEqual(verdict({ steps: [step("s", ok("a"), failed)] }), {
    verdict: "fail",
    reason: "failed: s on b",
  });
  assert.equal(
    verdict({ steps: [step("s", ok("a"), { ...failed, allowed: true })] }).verdict,
    "pass",
  );
  assert.equal(verdict({ steps: [step("s", { vm: "b", status: "timeout" })] }).verdict, "fail");
  const broken = verdict({ steps: [step("s", failed), step("t", { vm: "c", status: "error" })] });
  assert.deepEqual(broken, { verdict: "error", reason: "corral or QEMU broke: s on b; t on c" });
});

Deno.test("verdict: unknown when the run cannot tell", () => {
  const failed: TargetRecord = { vm: "a", status: "failed" };
  assert.match(
    verdict({ steps: [step("health", failed)], baselineFailed: true }).reason,
    /^the baseline was unhealthy before any fault: health on a$/,
  );
  assert.deepEqual(verdict({ steps: [step("s", ok("a"))], untargeted: ["crash"] }), {
    verdict: "unknown",
    reason: "nothing was tested by step(s) with no target VM: crash",
  });
  const never: MetricRecord = { name: "recovery", values: {}, max: 100 };
  assert.deepEqual(verdict({ steps: [step("s", ok("a"))], metrics: [never] }), {
    verdict: "unknown",
    reason: "could not measure: recovery",
  });
});

Deno.test("verdict: a metric over its bound fails, after step failures and before unknowns", () => {
  const over: MetricRecord = { name: "recovery", values: { a: 900 }, max: 100, pass: false };
  assert.deepEqual(verdict({ steps: [step("s", ok("a"))], metrics: [over], untargeted: ["x"] }), {
    verdict: "fail",
    reason: "metric(s) over their max: recovery",
  });
  assert.equal(
    verdict({ steps: [step("s", { vm: "a", status: "failed" })], metrics: [over] }).reason,
    "failed: s on a",
  );
});

Deno.test("verdict: a probe's availability below its min fails, named apart from metrics over their max", () => {
  const steps = [{
    name: "s",
    path: "steps[0]",
    action: "pause",
    targets: [{ vm: "a", status: "ok" as const }],
    startedAt: "",
    endedAt: "",
    startMs: 0,
    endMs: 1,
  }];
  const metrics = [
    { name: "up", values: { a: 50 }, unit: "%" as const, min: 99, pass: false },
    { name: "down", values: { a: 9000 }, max: 5000, pass: false },
  ];
  assert.deepEqual(judge({ steps, metrics, baselineFailed: false, untargeted: [], acted: true }), {
    verdict: "fail",
    reason: "metric(s) over their max: down; metric(s) below their min: up",
  });
});
