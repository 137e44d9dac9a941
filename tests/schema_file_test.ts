/** The editor schema (docs/recipe.schema.json) accepts every shipped recipe and rejects what the parser rejects. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { recipeSchema } from "../lib/recipe/schema.ts";
import { ACTIONS } from "../lib/recipe/actions/registry.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const schema = JSON.parse(await Deno.readTextFile(`${root}docs/recipe.schema.json`));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

Deno.test("recipe.schema.json accepts every shipped recipe", async () => {
  // The recipes are the YAML files; recipes/files holds what they upload.
  const recipes = [...Deno.readDirSync(`${root}recipes`)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".yaml"));
  assert.ok(recipes.length >= 8, `${recipes.length} recipes`);
  for (const entry of recipes) {
    const recipe = parse(await Deno.readTextFile(`${root}recipes/${entry.name}`));
    assert.ok(validate(recipe), `${entry.name}: ${JSON.stringify(validate.errors)}`);
  }
});

Deno.test("recipe.schema.json rejects unknown keys, two actions and bad enums", () => {
  const base = { recipe: 1, name: "t", vms: { a: {} } };
  assert.ok(validate({ ...base, steps: [{ name: "s", pause: {} }] }));
  assert.ok(!validate({ ...base, steps: [{ name: "s", pasue: {} }] }));
  assert.ok(!validate({ ...base, steps: [{ name: "s", pause: {}, resume: {} }] }));
  assert.ok(!validate({ ...base, steps: [{ name: "s", "panic-action": "explode" }] }));
  assert.ok(!validate({ ...base, vms: { a: { memroy: "16M" } }, steps: [] }));
});

Deno.test("recipe.schema.json is what the action registry generates (deno task gen-schema)", () => {
  assert.deepEqual(schema, recipeSchema(), "stale: run deno task gen-schema");
});

Deno.test("recipe.schema.json describes every registered action", () => {
  const base = { recipe: 1, name: "t", vms: { a: {} } };
  for (const action of ACTIONS) {
    assert.ok(schema.$defs.step.properties[action.key], `${action.key} is missing`);
  }
  assert.ok(validate({ ...base, vars: { db_pw: { value: "x", secret: true } }, steps: [] }));
});
