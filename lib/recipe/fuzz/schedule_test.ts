import assert from "node:assert/strict";
import { parse } from "yaml";
import { parseRecipe } from "../parse.ts";
import type { RunJournal } from "../journal.ts";
import { failuresOf, withSchedule } from "./_recipe_text.ts";
import {
  drawSchedule,
  isValid,
  type Schedule,
  type ScheduledFault,
  scheduleSteps,
  shrink,
  smaller,
} from "./schedule.ts";

const VMS = ["a", "b", "c", "d", "e"];
const draw = (seed: number, targets: ("one" | "minority" | "majority" | "all")[]) =>
  drawSchedule(seed, {
    faults: [{ fault: "stall", vms: VMS }, { fault: "kill", vms: ["a", "b"] }],
    duration: 10_000,
    maxFaults: 4,
    targets,
  });

Deno.test("schedule: drawn from its seed, within the window, on VMs that can take it, one fault per VM at a time", () => {
  assert.deepEqual(draw(42, ["one"]), draw(42, ["one"]));
  assert.notDeepEqual(draw(42, ["one"]), draw(43, ["one"]));
  const sizes = new Set<number>();
  for (let seed = 0; seed < 300; seed++) {
    const schedule = draw(seed, ["one", "minority", "majority", "all"]);
    assert.ok(schedule.faults.length >= 1 && schedule.faults.length <= 4);
    assert.ok(isValid(schedule), `seed ${seed}: a VM takes two faults at once`);
    for (const f of schedule.faults) {
      assert.ok(f.at >= 0 && f.for >= 200 && f.at + f.for <= 10_000, JSON.stringify(f));
      if (f.fault === "kill") assert.ok(f.on.every((vm) => vm === "a" || vm === "b"));
      sizes.add(f.on.length);
    }
    assert.deepEqual(schedule.faults, [...schedule.faults].sort((x, y) => x.at - y.at));
  }
  // one, minority (2 of 5), majority (3 of 5), all (5 of 5; of kill's two: 1 or 2).
  assert.deepEqual([...sizes].sort(), [1, 2, 3, 5]);
  for (let seed = 0; seed < 50; seed++) {
    assert.ok(draw(seed, ["one"]).faults.every((f) => f.on.length === 1));
  }
});

const measure = (s: Schedule) => [
  s.faults.length,
  s.faults.reduce((n, f) => n + f.on.length, 0),
  s.faults.reduce((n, f) => n + f.for, 0),
  s.faults.reduce((n, f) => n + f.at, 0),
];
const less = (x: number[], y: number[]) => {
  const i = x.findIndex((v, j) => v !== y[j]);
  return i >= 0 && x[i]! < y[i]!;
};

Deno.test("schedule: every smaller candidate is smaller, valid, and they cover each way of shrinking", () => {
  for (let seed = 0; seed < 100; seed++) {
    const schedule = draw(seed, ["one", "majority"]);
    for (const candidate of smaller(schedule)) {
      assert.ok(less(measure(candidate), measure(schedule)), `seed ${seed}`);
      assert.ok(isValid(candidate));
    }
  }
  const f: ScheduledFault = { fault: "stall", options: {}, on: ["a", "b"], at: 800, for: 1000 };
  const candidates = smaller({ faults: [f] });
  assert.deepEqual(candidates.map((c) => c.faults.map((x) => [x.on.join(), x.at, x.for])), [
    [["a,b", 0, 1000]],
    [],
    [["b", 800, 1000]],
    [["a", 800, 1000]],
    [["a,b", 800, 500]],
    [["a,b", 400, 1000]],
  ]);
});

const stall = (on: string, at: number, length: number): ScheduledFault => ({
  fault: "stall",
  options: {},
  on: [on],
  at,
  for: length,
});
const overlapAB = (s: Schedule) => {
  const [a, b] = ["a", "b"].map((vm) => s.faults.find((f) => f.on.includes(vm)));
  return a !== undefined && b !== undefined && a.at < b.at + b.for && b.at < a.at + a.for;
};

Deno.test("shrink: down to the two faults whose overlap fails, earlier and shorter, confirmed", async () => {
  const start = {
    faults: [
      stall("c", 300, 2000),
      stall("a", 2000, 3000),
      stall("b", 3000, 1500),
      stall("d", 6000, 900),
    ],
  };
  let runs = 0;
  const shrunk = await shrink(start, (s) => Promise.resolve(++runs > 0 && overlapAB(s)), 100);
  assert.equal(shrunk.runs, runs);
  assert.ok(shrunk.complete && shrunk.confirmed);
  assert.deepEqual(shrunk.schedule.faults.map((f) => f.on[0]).sort(), ["a", "b"]);
  assert.ok(overlapAB(shrunk.schedule));
  for (const candidate of smaller(shrunk.schedule)) assert.ok(!overlapAB(candidate));
  assert.equal(Math.min(...shrunk.schedule.faults.map((f) => f.at)), 0, "moved to the start");
});

Deno.test("shrink: a budget ends it; a result that does not fail again falls back to a larger one", async () => {
  const start = { faults: [stall("c", 300, 2000), stall("a", 2000, 3000), stall("b", 3000, 1500)] };
  const budgeted = await shrink(start, (s) => Promise.resolve(overlapAB(s)), 2);
  assert.ok(!budgeted.complete);
  assert.equal(budgeted.runs, 3, "two candidates and the re-run");

  // Flaky: each schedule fails the first time it runs and passes after.
  const seen = new Set<string>();
  const once = (s: Schedule) => {
    const key = JSON.stringify(s);
    const first = !seen.has(key);
    seen.add(key);
    return Promise.resolve(first && overlapAB(s));
  };
  const flaky = await shrink(start, once, 100);
  assert.ok(!flaky.confirmed && !flaky.complete);
  assert.deepEqual(flaky.schedule, start, "nothing smaller failed twice: the run that failed");
});

const RECIPE = `recipe: 1
name: sut
# the system
vms: { a: {}, b: {} }
probes:
  up: { on: a, every: 1s, qmp: { execute: query-status } }
metrics:
  avail: { probe: up, availability: { min: 90% } }
steps:
  - { name: boot, qmp: { execute: query-status } }
finally:
  - { name: tidy, qmp: { execute: query-status } }
`;

Deno.test("a schedule as steps: a timeline after the recipe's own, finally untouched, a recipe corral reads", () => {
  const schedule = {
    faults: [stall("a", 0, 1000), {
      fault: "kill",
      options: {},
      on: ["b"],
      at: 500,
      for: 1500,
    }],
  };
  const steps = scheduleSteps(schedule, "a", 1000);
  assert.deepEqual(steps.map((s) => s.name), [
    "fuzz: fuzz-1 stall a",
    "fuzz: until 0.5 s",
    "fuzz: fuzz-2 kill b",
    "fuzz: until 1.0 s",
    "fuzz: fuzz-1 ends",
    "fuzz: until 2.0 s",
    "fuzz: fuzz-2 ends",
    "fuzz: settle",
  ]);
  assert.deepEqual(steps[4], {
    name: "fuzz: fuzz-1 ends",
    on: ["a"],
    heal: { step: "fuzz-1" },
    "continue-on-error": true,
  });
  assert.deepEqual(steps[6]!.start, {}, "a killed QEMU is started again");

  const text = withSchedule(RECIPE, schedule, { clock: "a", settle: 1000 }, " found by fuzz");
  assert.match(text, /# the system/);
  assert.match(text, /- \{ name: boot.*\n\s+# found by fuzz\n\s+- \{ name: "fuzz: fuzz-1 stall a"/);
  const data = parse(text);
  assert.deepEqual(data.finally, parse(RECIPE).finally);
  const recipe = parseRecipe(text, "sut.yaml");
  assert.deepEqual(recipe.steps.map((s) => s.action.kind), [
    "qmp",
    "stall",
    "sleep",
    "kill",
    "sleep",
    "heal",
    "sleep",
    "start",
    "sleep",
  ]);
});

Deno.test("failures: named by what failed, the schedule's own steps left out", () => {
  const journal = {
    verdict: "fail",
    steps: [
      { name: "boot", targets: [{ vm: "a", status: "ok" }] },
      { name: "fuzz: fuzz-1 stall a", targets: [{ vm: "a", status: "failed", allowed: true }] },
      { name: "fuzz: fuzz-1 ends", targets: [{ vm: "a", status: "timeout" }] },
      { name: "check", targets: [{ vm: "b", status: "timeout" }] },
    ],
    metrics: [{ name: "avail", values: { a: 50 }, pass: false }, {
      name: "t",
      values: {},
      pass: true,
    }],
    violations: [{ rule: "never RESET", vm: "b", what: "RESET" }],
  } as unknown as RunJournal;
  assert.deepEqual(failuresOf(journal), [
    "step 'check' failed",
    "metric 'avail' out of bounds",
    "never RESET broken",
  ]);
  assert.deepEqual(failuresOf({ ...journal, verdict: "unknown" }), []);
  assert.deepEqual(
    failuresOf({ ...journal, verdict: "error", steps: [], metrics: [], violations: [] }),
    [
      "corral or QEMU broke",
    ],
  );
});
