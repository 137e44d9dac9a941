/**
 * A probe with a quorum judges its VMs as one service (issue 26's planted
 * weakness rests on it): each attempt asks every VM at once and passes when
 * any, a majority or all of them answer.
 */

import assert from "node:assert/strict";
import { parseRecipe, RecipeError, runRecipe } from "../mod.ts";

const recipe = (quorums: string) =>
  `recipe: 1
name: quorum
vms:
  defaults: { guest: builtin:tiny }
  a: {}
  b: {}
  c: {}
probes:
${
    quorums.split(",").map((q) =>
      `  ${q}: { on: all, every: 100ms, timeout: 300ms, ${
        q === "each" ? "" : `quorum: ${q}, `
      }qmp: { execute: query-status, expect: { running: true } } }`
    ).join("\n")
  }
steps:
  - { name: pause a, on: a, pause: {} }
  - { name: while a is paused, on: a, sleep: 500ms }
  - { name: resume a, on: a, resume: {} }
`;

Deno.test("probes with a quorum: any and majority ride out one VM paused, all does not; without one each VM is its own", async () => {
  const { journal } = await runRecipe(
    parseRecipe(recipe("any,majority,all,each"), "quorum.yaml"),
    { seed: 1 },
  );
  const records = (name: string) => journal.probes!.filter((p) => p.name === name);
  for (const name of ["any", "majority", "all"]) {
    assert.deepEqual(records(name).map((r) => r.vm), ["a+b+c"], name);
  }
  const attempts = (name: string) => records(name)[0]!.attempts;
  assert.ok(attempts("any").length >= 3 && attempts("any").every((a) => a.ok));
  assert.ok(attempts("majority").every((a) => a.ok));
  const failed = attempts("all").filter((a) => !a.ok);
  assert.ok(failed.length >= 2, JSON.stringify(attempts("all")));
  assert.match(failed[0]!.error!, /^2 of 3 answered \(all needs 3\): a: /);
  assert.deepEqual(records("each").map((r) => r.vm), ["a", "b", "c"]);
  assert.ok(records("each")[0]!.attempts.some((a) => !a.ok));
  assert.ok(records("each")[1]!.attempts.every((a) => a.ok));
});

Deno.test("probes with a quorum: anything else is refused at its line", () => {
  assert.throws(
    () => parseRecipe(recipe("most"), "quorum.yaml"),
    (error: unknown) =>
      error instanceof RecipeError &&
      /quorum\.yaml:9:\d+: quorum must be any, majority or all, not 'most'/.test(error.message),
  );
});
