/**
 * What `check` catches before anything runs (issue 9): every problem `run`
 * would hit for static reasons is reported at its line, at once.
 */

import assert from "node:assert/strict";
import { ACTION_KEYS } from "../lib/recipe/actions/registry.ts";
import { parseRecipe, planRecipe, RecipeError } from "../mod.ts";
import { formatPlan } from "../lib/recipe/plan.ts";

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

Deno.test("check: the operator's example in docs/recipes.md, every maintenance key in it, is valid", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/recipes.md", import.meta.url));
  const example = /An operator's day on one VM[^\n]*\n\n```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  const plan = planRecipe(parseRecipe(`recipe: 1\nname: ops\n${example}`, "docs/recipes.md"), 1);
  assert.deepEqual(plan.steps.map((s) => s.step.action.kind), [
    "wait-agent",
    "backup",
    "resize-disk",
    "cpus",
    "memory",
    "balloon",
    "cdrom",
    "snapshot",
    "agent",
    "commit",
    "block-move",
    "migrate",
    "restore",
  ]);
});

Deno.test("check: VM fields for real guests reach the launch spec (accel, disks, kernel, agent)", async () => {
  // The files must exist: check says so of those that do not.
  const dir = await Deno.makeTempDir();
  for (const file of ["base.qcow2", "vmlinuz", "initrd.img"]) {
    await Deno.writeTextFile(`${dir}/${file}`, "");
  }
  const recipe = parseRecipe(
    HEAD +
      `vms:\n  a: { guest: builtin:linux, accel: tcg, disks: [{ base: ${dir}/base.qcow2 }, { size: 1G }], append: quiet }\n` +
      `  b: { kernel: ${dir}/vmlinuz, initrd: ${dir}/initrd.img, agent: true }\n` +
      "steps:\n  - { name: s, pause: {} }\n",
    "r.yaml",
  );
  await Deno.remove(dir, { recursive: true });
  assert.deepEqual(recipe.inventory[0]!.spec, {
    name: "a",
    guest: "builtin:linux",
    accel: "tcg",
    disks: [{ base: `${dir}/base.qcow2` }, { size: "1G" }],
    append: "quiet",
  });
  assert.deepEqual(recipe.inventory[1]!.spec, {
    name: "b",
    kernel: `${dir}/vmlinuz`,
    initrd: `${dir}/initrd.img`,
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
      "7:34 snapshot takes exactly one of save, load, delete or external, not save and load",
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

Deno.test("check: what failed only at run time is found at its line (issue 20)", () => {
  const found = problems(
    HEAD + "hosts: { h1: { ssh: '-oProxyCommand=touch /tmp/x' } }\n" +
      "networks: { lan: { subnet: 10.45.0.0/29 } }\n" +
      "vms:\n" +
      "  n[1:7]: { networks: [lan] }\n" +
      "  w: { template: warm, networks: [lan] }\n" +
      "  k: { kernel: /nowhere/vmlinuz, initrd: /nowhere/initrd, disks: [{ base: /nowhere/base.qcow2 }] }\n" +
      "steps:\n" +
      "  - { name: move, on: n1, migrate: {} }\n",
  );
  const expect = [
    /^3:21 ssh must be user@host or host, not "-oProxyCommand=touch \/tmp\/x"$/,
    /^6:3 network 'lan' \(10\.45\.0\.0\/29\) has room for 5 VMs and 8 join it: give it a larger subnet$/,
    /^7:3 vm 'w': template: warm does not take lab networks yet$/,
    /^8:3 vm 'k': kernel \/nowhere\/vmlinuz does not exist$/,
    /^8:3 vm 'k': initrd \/nowhere\/initrd does not exist$/,
    /^8:3 vm 'k': disks\[0\]\.base \/nowhere\/base\.qcow2 does not exist$/,
  ];
  for (const pattern of expect) {
    assert.ok(found.some((line) => pattern.test(line)), `${pattern}\n${found.join("\n")}`);
  }
});

Deno.test("check: migrate refuses VMs it cannot move: on lab networks, disks (a guest image's too) to another host", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/guest.img`, "");
    assert.deepEqual(
      problems(
        HEAD + "hosts: { h2: { ssh: me@h2 } }\nnetworks: { lan: {} }\nvms:\n" +
          "  n1: { networks: [lan] }\n  d1: { disks: [{ size: 8M }] }\n" +
          `  i1: { guest: ${dir}/guest.img }\n  ok1: {}\nsteps:\n` +
          "  - { name: here, on: [n1, i1, ok1], migrate: {} }\n" +
          "  - { name: there, on: [d1, i1, ok1], migrate: { host: h2 } }\n",
      ),
      [
        "11:5 step 'here': migrate cannot move n1, which is on lab networks (its tap devices cannot be handed over yet)",
        "12:5 step 'there': migrate cannot move d1, which has disks, which stay on its host: give it copy-storage: true to copy them to 'h2'",
        "12:5 step 'there': migrate cannot move i1, which has disks, which stay on its host: give it copy-storage: true to copy them to 'h2'",
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan: the real boot source, disks, memory and template", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/vmlinuz`, "");
    await Deno.writeTextFile(`${dir}/initrd`, "");
    const recipe = parseRecipe(
      HEAD + `vms:\n  k: { kernel: ${dir}/vmlinuz, initrd: ${dir}/initrd, memory: 512M, ` +
        `disks: [{ size: 1G }], template: warm }\nsteps:\n  - { name: p, pause: {} }\n`,
      "r.yaml",
    );
    const text = formatPlan(planRecipe(recipe, 1));
    assert.match(
      text,
      new RegExp(
        `k +launch kernel ${dir}/vmlinuz \\+ initrd ${dir}/initrd, tcg, memory 512M, disks 1G, template warm`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check: ${{ vms.NAME.address.NETWORK }} in a VM's own fields, also inside cloud-init's maps; one to nothing is an error at the VM", () => {
  const image = import.meta.filename!;
  const recipe = parseRecipe(
    HEAD + "networks: { lan: {} }\nvms:\n  defaults: { networks: [lan] }\n  db: {}\n" +
      '  app:\n    append: "db=${{ vms.db.address.lan }} me=${{ vms.app.address.lan }}"\n' +
      `    guest: ${image}\n` +
      '    cloud-init: { user-data: { runcmd: ["ping ${{ vms.db.address.lan }}"] } }\n' +
      "steps:\n  - { name: s, sleep: 1ms }\n",
    "r.yaml",
  );
  const app = recipe.inventory.find((vm) => vm.name === "app")!.spec!;
  assert.equal(app.append, "db=10.44.0.2 me=10.44.0.3");
  assert.deepEqual(app.cloudInit?.userData, { runcmd: ["ping 10.44.0.2"] });
  assert.deepEqual(
    problems(
      HEAD +
        'networks: { lan: {} }\nvms:\n  a: { networks: [lan], append: "x=${{ vms.b.address.lan }}" }\n' +
        "steps:\n  - { name: s, sleep: 1ms }\n",
    ),
    ["5:3 vm 'a': ${{ vms.b.address.lan }}: no VM 'b' on network 'lan'"],
  );
});
