/** Recipe validation: every class of error, at its exact line and column, all at once. */

import assert from "node:assert/strict";
import { ACTION_KEYS } from "../lib/recipe/actions/registry.ts";
import { parseRecipe, planRecipe, RecipeError } from "../mod.ts";

function issues(text: string, vars?: Record<string, string>): string[] {
  try {
    parseRecipe(text, "r.yaml", { vars });
  } catch (error) {
    assert.ok(error instanceof RecipeError, String(error));
    return error.issues.map((issue) => `${issue.pos.line}:${issue.pos.col} ${issue.message}`);
  }
  return [];
}

const HEAD = "recipe: 1\nname: t\nvms:\n  a: { groups: [g] }\n  b: {}\nsteps:\n";

Deno.test("parse: a valid recipe has no issues and keeps its shape", () => {
  const recipe = parseRecipe(
    HEAD + "  - name: s\n    id: s1\n    on: [a, g]\n    timeout: 2m\n    pause: {}\n",
    "r.yaml",
  );
  assert.equal(recipe.steps[0]!.timeout, 120_000);
  assert.equal(recipe.inventory.length, 2);
  assert.equal(recipe.forks, 20);
  assert.equal(recipe.timeout, 30_000);
});

Deno.test("parse: YAML syntax errors point at their line", () => {
  assert.deepEqual(issues("recipe: 1\nname: t\nvms: {a: {}\nsteps: []\n"), [
    "4:1 Flow map in block collection must be sufficiently indented and end with a }",
  ]);
  const [first] = issues("recipe: 1\nname: t\nname: u\nvms: {a: {}}\nsteps: []\n");
  assert.match(first!, /^3:1 Map keys must be unique/);
});

Deno.test("parse: unknown keys everywhere, with did-you-mean", () => {
  assert.deepEqual(
    issues(
      "recipe: 1\nname: t\ndefualts: {}\nvms:\n  a: { memroy: 16M }\nsteps:\n  - name: s\n    pasue: {}\n",
    ),
    [
      `3:1 unknown key 'defualts' in recipe; did you mean "defaults"?`,
      `5:8 unknown key 'memroy' in vms.a; did you mean "memory"?`,
      `7:5 step 's' has no action: give it one of ${ACTION_KEYS.join(", ")}`,
      `8:5 unknown key 'pasue' in a step; did you mean "pause"?`,
    ],
  );
});

Deno.test("parse: wrong types, bad durations, bad enums", () => {
  assert.deepEqual(
    issues(
      HEAD +
        "  - name: s1\n    timeout: soon\n    pause: {}\n" +
        "  - name: s2\n    continue-on-error: yes please\n    wait-status: { status: runing }\n" +
        "  - name: s3\n    panic-action: explode\n" +
        "defaults: { forks: 0 }\n",
    ),
    [
      `8:14 timeout: "soon" is not a duration; write 500ms, 20s, 2m or 1h`,
      `11:24 continue-on-error must be true or false, not "yes please"`,
      `12:28 'runing' is not a QEMU run state; did you mean "running"?`,
      "14:19 panic-action must be one of pause, shutdown, exit-failure, none",
      `15:20 forks must be a positive whole number, not 0`,
    ],
  );
});

Deno.test("parse: unknown VMs, groups, step ids and variables; duplicate names", () => {
  assert.deepEqual(
    issues(
      HEAD +
        "  - name: s\n    on: [c, gg]\n    pause: {}\n" +
        "  - name: s\n    id: x\n    on: ${{ steps.y.targets }}\n    timeout: ${{ vars.boot }}\n    resume: {}\n" +
        "  - name: u\n    on: { group: nope, pick: one }\n    nmi: {}\n" +
        "metrics:\n  m: { from: x.start, to: z.end }\n",
    ),
    [
      `8:10 'c' is not a VM or a group of this recipe`,
      `8:13 'gg' is not a VM or a group of this recipe; did you mean "g"?`,
      "10:11 step name 's' is already used at line 7",
      "12:9 no step has id 'y'",
      "13:14 unknown variable 'boot'",
      `16:9 'nope' is not a group of this recipe`,
      "19:27 no step has id 'z'",
    ],
  );
});

Deno.test("parse: one action per step; console modes; regex patterns; references", () => {
  assert.deepEqual(
    issues(
      HEAD +
        "  - name: two\n    pause: {}\n    resume: {}\n" +
        "  - name: con\n    console: { wait: READY, send: x }\n" +
        "  - name: re\n    console: { wait: '/([/' }\n" +
        "  - name: ref\n    console: { send: '${{ vm.nmae }}' }\n",
    ),
    [
      "7:5 step 'two' has 2 actions (pause, resume): give it exactly one",
      "11:14 console takes exactly one of wait, send or exec, not wait and send",
      "13:22 wait: /([/ is not a valid regular expression: Invalid regular expression: /([/: Unterminated character class",
      "15:22 unknown reference ${{ vm.nmae }}: use vars.NAME, steps.ID.targets, vms.NAME.address.NETWORK, vms.NAME.forward.PORT, vm.name or seed",
    ],
  );
});

Deno.test("parse: --var overrides, ranges expand, defaults apply", () => {
  const text =
    "recipe: 1\nname: t\nvars: { boot: 5s }\nvms:\n  defaults: { memory: 32M, panic: shutdown }\n" +
    "  web[1:3]: { groups: [web] }\nsteps:\n  - { name: s, timeout: '${{ vars.boot }}', pause: {} }\n";
  const recipe = parseRecipe(text, "r.yaml", { vars: { boot: "9s" } });
  assert.deepEqual(recipe.inventory.map((vm) => vm.name), ["web1", "web2", "web3"]);
  assert.equal(recipe.inventory[2]!.spec!.panic, "shutdown");
  assert.equal(recipe.inventory[0]!.spec!.memory, "32M");
  assert.equal(recipe.steps[0]!.timeout, 9000);
});

Deno.test("plan: picks come from the seed, the same every time", () => {
  const text = "recipe: 1\nname: t\nvms:\n  n[1:9]: { groups: [g] }\nsteps:\n" +
    "  - { name: one, on: { group: g, pick: one }, pause: {} }\n" +
    "  - { name: most, on: { group: g, pick: majority }, pause: {} }\n" +
    "  - { name: few, on: { group: g, pick: minority }, pause: {} }\n";
  const recipe = parseRecipe(text, "r.yaml");
  const picks = (seed: number) => planRecipe(recipe, seed).steps.map((step) => step.targets);
  assert.deepEqual(picks(7), picks(7));
  const [one, most, few] = picks(7);
  assert.equal(one!.length, 1);
  assert.equal(most!.length, 5);
  assert.equal(few!.length, 4);
  const different = [1, 2, 3, 4, 5].some((seed) =>
    JSON.stringify(picks(seed)) !== JSON.stringify(picks(7))
  );
  assert.ok(different, "other seeds pick other VMs");
});

Deno.test("plan: serial batches, the last size repeating", () => {
  const text = "recipe: 1\nname: t\nvms:\n  n[1:7]: {}\nsteps:\n" +
    "  - name: roll\n    serial: [1, '50%']\n    block:\n      - { name: p, pause: {} }\n";
  const plan = planRecipe(parseRecipe(text, "r.yaml"), 1);
  assert.deepEqual(plan.steps[0]!.batches, [["n1"], ["n2", "n3", "n4", "n5"], ["n6", "n7"]]);
});
