import assert from "node:assert/strict";
import { Outcomes } from "./_outcomes.ts";
import type { ProbeRecord } from "./journal.ts";
import type { Metric } from "./model.ts";

const pos = { file: "r.yaml", line: 1, col: 1 };
const attempt = (startMs: number, ok: boolean) => ({ startMs, endMs: startMs + 10, ok });

Deno.test("outcomes: a probe's availability and its longest outage, within their bounds or not", () => {
  const probes: ProbeRecord[] = [
    {
      name: "web",
      vm: "a",
      attempts: [0, 100, 200, 300, 400].map((t, i) => attempt(t, i !== 1 && i !== 2)),
    },
    { name: "web", vm: "b", attempts: [0, 100].map((t) => attempt(t, true)) },
    { name: "web", vm: "c", attempts: [0, 100].map((t) => attempt(t, false)) },
  ];
  const metrics: Metric[] = [
    { name: "up", probe: { name: "web", measure: "availability" }, min: 60, pos },
    { name: "down", probe: { name: "web", measure: "outage" }, max: 150, pos },
  ];
  const [up, down] = new Outcomes().metrics(metrics, probes);
  assert.deepEqual(up, {
    name: "up",
    values: { a: 60, b: 100, c: 0 },
    unit: "%",
    min: 60,
    pass: false,
  });
  // a: failed from 100 until the pass at 300; c: failed from 0 to its last attempt's end.
  assert.deepEqual(down, {
    name: "down",
    values: { a: 200, b: 0, c: 110 },
    spans: { a: [100, 300], c: [0, 110] },
    max: 150,
    pass: false,
  });
  const none = new Outcomes().metrics(metrics, []);
  assert.equal(none[0]!.pass, undefined, "no attempt: not measured");
});
