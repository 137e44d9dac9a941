/**
 * Composition (issue 24): `include: FILE` brings the steps of another file
 * with `vars:` passed in, its errors located in that file; `loop:` makes a
 * step once per item with `${{ item }}`; and a run of both on real QEMUs.
 */

import assert from "node:assert/strict";
import { loadRecipe, RecipeError, runRecipe } from "../mod.ts";

async function files(entries: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "corral-compose-" });
  for (const [name, text] of Object.entries(entries)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

const CHECKS = `vars: { status: running }
steps:
  - { name: "\${{ vars.vm }} is \${{ vars.status }}", on: "\${{ vars.vm }}", wait-status: { status: "\${{ vars.status }}" } }
  - { name: it answers, on: "\${{ vars.vm }}", qmp: { execute: query-name } }
`;

Deno.test("include and loop: another file's steps with vars passed in, a step per item; they run as written", async () => {
  const dir = await files({
    "checks.yaml": CHECKS,
    "lab.yaml": `recipe: 1
name: composed
vars: { vms: [a, b] }
vms:
  a: { guest: none }
  b: { guest: none }
steps:
  - { include: checks.yaml, name: first, vars: { vm: a } }
  - { include: checks.yaml, name: second, vars: { vm: b } }
  - { name: "pause \${{ item }}", on: "\${{ item }}", pause: {}, loop: "\${{ vars.vms }}" }
  - { name: paused, wait-status: { status: paused }, loop: [a, b], on: "\${{ item }}" }
`,
  });
  try {
    const recipe = await loadRecipe(`${dir}/lab.yaml`);
    assert.deepEqual(recipe.steps.map((s) => s.name), [
      "first: a is running",
      "first: it answers",
      "second: b is running",
      "second: it answers",
      "pause a",
      "pause b",
      "paused (a)",
      "paused (b)",
    ]);
    assert.equal(recipe.steps[0]!.pos.file, `${dir}/checks.yaml`);
    assert.equal(recipe.steps[0]!.pos.line, 3);
    const { journal } = await runRecipe(recipe, { seed: 1 });
    assert.equal(journal.verdict, "pass", journal.reason);
    assert.deepEqual(journal.steps.map((s) => s.targets.map((t) => t.vm).join()), [
      "a",
      "a",
      "b",
      "b",
      "a",
      "b",
      "a",
      "b",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("include and loop: errors point into the included file; a file that includes itself, a missing file, ${{ item }} outside a loop", async () => {
  const dir = await files({
    "bad.yaml": "steps:\n  - { name: x, nmi: {}, bogus: 1 }\n",
    "self.yaml": "steps:\n  - { include: self.yaml }\n",
    "lab.yaml": `recipe: 1
name: broken
vms: { a: {} }
steps:
  - { include: bad.yaml }
  - { include: self.yaml }
  - { include: nowhere.yaml }
  - { name: "lonely \${{ item }}", nmi: {} }
`,
  });
  try {
    const error = await loadRecipe(`${dir}/lab.yaml`).then(() => undefined, (e) => e);
    assert.ok(error instanceof RecipeError, String(error));
    const lines = error.issues.map((i) =>
      `${i.pos.file.replace(dir, "")}:${i.pos.line} ${i.message}`
    );
    assert.ok(
      lines.some((l) => l.startsWith("/bad.yaml:2 unknown key 'bogus' in a step")),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.startsWith("/self.yaml:2 include: self.yaml includes itself")),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => /^\/lab\.yaml:7 include: cannot read .*nowhere\.yaml/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.includes("is the item of a step with loop: and only there")),
      lines.join("\n"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
