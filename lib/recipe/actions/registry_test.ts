import assert from "node:assert/strict";
import { ACTIONS } from "./registry.ts";

/** What an action file imports to define itself, and the registry: not actions. */
const SUPPORT = ["action.ts", "options.ts", "parse_tools.ts", "registry.ts"];

Deno.test("actions: every file of lib/recipe/actions is a registered action", async () => {
  const files = [...Deno.readDirSync(new URL(".", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) =>
      name.endsWith(".ts") && !name.startsWith("_") && !name.endsWith("_test.ts") &&
      !SUPPORT.includes(name)
    );
  for (const file of files) {
    const module = await import(`./${file}`);
    assert.ok(ACTIONS.includes(module.default), `${file} is not in registry.ts`);
  }
  assert.equal(files.length, ACTIONS.length);
});
