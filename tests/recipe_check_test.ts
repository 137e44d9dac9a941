/**
 * What `check` catches before anything runs (issue 9): every problem `run`
 * would hit for static reasons is reported at its line, at once.
 */

import assert from "node:assert/strict";
import { ACTION_KEYS } from "../lib/recipe/actions/registry.ts";
import { parseRecipe, planRecipe, RecipeError } from "../mod.ts";

/** Parse and plan `text`; every issue as `LINE:COL message`. */
function problems(text: string, options: { vars?: Record<string, string>; maxVms?: number } = {}) {
  try {
    planRecipe(parseRecipe(text, "r.yaml", options), 1);
  } catch (error) {
    assert.ok(error instanceof RecipeError, String(error));
    return error.issues.map((issue) => `${issue.pos.line}:${issue.pos.col} ${issue.message}`);
  }
  return [];
}

const HEAD = "recipe: 1\nname: t\n";

Deno.test("check: steps.X.targets used before step X runs is an error at its line", () => {
  assert.deepEqual(
    problems(
      HEAD + "vms: { a: {} }\nsteps:\n" +
        "  - { name: early, on: '${{ steps.x.targets }}', pause: {} }\n" +
        "  - { name: x, id: x, pause: {} }\n",
    ),
    ["5:24 steps.x.targets is used before step 'x' runs: a step can only act on the targets of a step above it"],
  );
});

Deno.test("check: console on a VM without one, and start/stop/kill on attached VMs", () => {
  assert.deepEqual(
    problems(
      HEAD + "vms:\n  a: { attach: 'unix:/nowhere.qmp' }\n  n: { guest: none }\n  t: {}\nsteps:\n" +
        "  - { name: type, console: { send: hi } }\n" +
        "  - { name: cut, kill: {} }\n" +
        "  - { name: fine, on: t, kill: {} }\n" +
        "finally:\n  - { name: bye, stop: {} }\n",
    ),
    [
      "8:5 step 'type': console cannot run on a, n, which has no serial console corral can use (attached, or guest none)",
      "9:5 step 'cut': kill cannot run on a, which was not launched by corral (attached): corral never starts, stops or kills it",
      "12:5 step 'bye': stop cannot run on a, which was not launched by corral (attached): corral never starts, stops or kills it",
    ],
  );
});

Deno.test("check: an unknown --var is an error with a did-you-mean", () => {
  const text = HEAD + "vars: { maxfail: 1 }\nvms: { a: {} }\nsteps:\n  - { name: s, pause: {} }\n";
  assert.deepEqual(problems(text, { vars: { maxfial: "2" } }), [
    `3:7 --var maxfial: the recipe declares no variable 'maxfial'; did you mean "maxfail"?`,
  ]);
  assert.deepEqual(problems(text, { vars: { maxfail: "2" } }), []);
});

Deno.test("check: a pick larger than its group", () => {
  assert.deepEqual(
    problems(
      HEAD + "vms: { 'w[1:3]': { groups: [web] } }\nsteps:\n" +
        "  - { name: s, on: { group: web, pick: 5 }, pause: {} }\n",
    ),
    ["5:20 pick 5 from group 'web', which has only 3 VM(s)"],
  );
});

Deno.test("check: huge inventories need maxVms and are refused at once", () => {
  for (const range of ["web[1:100000]", "web[1:4294967296]", "web[1:1001]"]) {
    const text = HEAD + `vms: { '${range}': {} }\nsteps:\n  - { name: s, pause: {} }\n`;
    const [problem] = problems(text);
    assert.match(problem!, /^3:6 vms declares \d+ VMs, more than the 1000 allowed: .*--max-vms/);
  }
  const text = HEAD + "vms: { 'web[1:1001]': {} }\nsteps:\n  - { name: s, pause: {} }\n";
  assert.deepEqual(problems(text, { maxVms: 1001 }), []);
});

Deno.test("check: durations past the timer range are invalid input", () => {
  assert.deepEqual(
    problems(HEAD + "vms: { a: {} }\nsteps:\n  - { name: s, timeout: 600h, sleep: 1s }\n"),
    ['5:25 timeout: "600h" is longer than the longest deadline corral can keep (2147483.65 s, about 24 days)'],
  );
});

Deno.test("check: templates are allowed in qmp expect and wait-event match", () => {
  assert.deepEqual(
    problems(
      HEAD + "vms: { a: {} }\nsteps:\n" +
        "  - { name: q, qmp: { execute: query-name, expect: { name: '${{ vm.name }}' } } }\n" +
        "  - { name: w, wait-event: { event: X, match: { id: '${{ vm.name }}' } } }\n",
    ),
    [],
  );
  assert.deepEqual(
    problems(
      HEAD + "vms: { a: {} }\nsteps:\n  - { name: c, console: { wait: '${{ vm.name }}' } }\n",
    ),
    [
      "5:33 ${{ vm.name }} and ${{ seed }} are only allowed in console send and exec, fail messages, qmp arguments and expect, and wait-event match",
    ],
  );
});

Deno.test("check: YAML anchors, aliases and merge keys work; errors point at the right line", () => {
  // Anchors live in the document; merge keys fill in what a mapping does not say.
  const recipe = parseRecipe(
    HEAD +
      "vms:\n  defaults: &tiny { memory: 32M }\n  a: { <<: *tiny, groups: [g] }\n" +
      "  b: { <<: *tiny, memory: 64M }\nsteps:\n" +
      "  - &step { name: one, on: g, pause: {} }\n" +
      "  - { <<: *step, name: two }\n",
    "r.yaml",
  );
  assert.equal(recipe.inventory[0]!.spec!.memory, "32M");
  assert.equal(recipe.inventory[1]!.spec!.memory, "64M");
  assert.deepEqual(recipe.steps.map((s) => [s.name, s.action.kind]), [["one", "pause"], [
    "two",
    "pause",
  ]]);
  const noAction = `has no action: give it one of ${ACTION_KEYS.join(", ")}`;
  assert.deepEqual(
    problems(
      HEAD +
        "vms: { a: {} }\nsteps:\n  - &bad { name: one, pasue: {} }\n  - { <<: *bad, name: two }\n",
    ),
    [
      `5:10 step 'one' ${noAction}`,
      `5:23 unknown key 'pasue' in a step; did you mean "pause"?`,
      `6:5 step 'two' ${noAction}`,
    ],
  );
});

Deno.test("check: the whole-recipe example in docs/recipes.md is valid", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/recipes.md", import.meta.url));
  const example = /## A whole recipe\n\n```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  // A problem throws a RecipeError that lists it at its line.
  const plan = planRecipe(parseRecipe(example, "docs/recipes.md"), 1);
  assert.equal(plan.steps.length, 5);
});

Deno.test("check: VM fields for real guests reach the launch spec (accel, disks, kernel, agent)", () => {
  const recipe = parseRecipe(
    HEAD +
      "vms:\n  a: { guest: builtin:linux, accel: tcg, disks: [{ base: /img/base.qcow2 }, { size: 1G }], append: quiet }\n" +
      "  b: { kernel: /boot/vmlinuz, initrd: /boot/initrd.img, agent: true }\n" +
      "steps:\n  - { name: s, pause: {} }\n",
    "r.yaml",
  );
  assert.deepEqual(recipe.inventory[0]!.spec, {
    name: "a",
    guest: "builtin:linux",
    accel: "tcg",
    disks: [{ base: "/img/base.qcow2" }, { size: "1G" }],
    append: "quiet",
  });
  assert.deepEqual(recipe.inventory[1]!.spec, {
    name: "b",
    kernel: "/boot/vmlinuz",
    initrd: "/boot/initrd.img",
    agent: true,
  });
  assert.deepEqual(
    problems(
      HEAD +
        "vms:\n  a: { disks: [{ size: lots }], accel: hvf }\nsteps:\n  - { name: s, pause: {} }\n",
    ),
    [
      "4:3 vm 'a': accel must be kvm or tcg, not \"hvf\"",
      '4:24 size must be like 512M or 2G, not "lots"',
    ],
  );
});

Deno.test("check: maintenance actions and output metrics are checked at their line", () => {
  assert.deepEqual(
    problems(
      HEAD + "vms: { a: {} }\nsteps:\n" +
        "  - { name: m1, on: a, id: m, migrate: { mode: sideways } }\n" +
        "  - { name: m2, on: a, migrate: { max-bandwidth: lots, postcopy-after: 1s } }\n" +
        "  - { name: s1, on: a, snapshot: { save: x, load: x } }\n" +
        "  - { name: s2, on: a, snapshot: { save: x, freeze: maybe } }\n" +
        "  - { name: b1, on: a, backup: { disk: disk0 } }\n" +
        "  - { name: h1, on: a, hotplug: { add: { id: p } } }\n" +
        "metrics:\n  d: { value: m.downtime.ms }\n  e: { value: nope.downtimeMs }\n" +
        "  f: { value: m.downtimeMs, from: m.start }\n",
    ),
    [
      "5:48 mode must be one of precopy, postcopy",
      '6:50 max-bandwidth must be bytes per second like 1G or 500M, not "lots"',
      "6:72 postcopy-after needs mode: postcopy",
      "7:34 snapshot takes exactly one of save, load or delete, not save and load",
      '8:53 freeze must be true or false, not "maybe"',
      "9:32 missing required key 'to'",
      "10:40 add needs driver",
      "12:15 value must name STEP_ID.FIELD, a number of ms in the step's output (e.g. evacuate.downtimeMs), not 'm.downtime.ms'",
      "13:15 no step has id 'nope'",
      "14:15 a metric takes either value or from and to, not both",
    ],
  );
  assert.deepEqual(
    problems(
      HEAD + "vms: { b: { attach: 'unix:/nowhere.qmp' } }\nsteps:\n" +
        "  - { name: m3, on: b, migrate: {} }\n  - { name: s3, on: b, snapshot: { save: x } }\n",
    ).map((p) => p.replace(/^(\d+:\d+) .*(attached|launch).*$/, "$1 needs a launched VM")),
    ["5:5 needs a launched VM"],
  );
});
