import assert from "node:assert/strict";
import { REPORTERS } from "./registry.ts";

Deno.test("reporters: every file of lib/recipe/reporters is a registered output; the page after events.jsonl", async () => {
  const files = [...Deno.readDirSync(new URL(".", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) =>
      name.endsWith(".ts") && !name.startsWith("_") && !name.endsWith("_test.ts") &&
      !["registry.ts", "reporter.ts"].includes(name)
    );
  for (const file of files) {
    const module = await import(`./${file}`);
    assert.ok(REPORTERS.includes(module.default), `${file} is not in registry.ts`);
  }
  assert.equal(files.length, REPORTERS.length);
  const names = REPORTERS.map((r) => r.name);
  assert.ok(names.indexOf("events.jsonl") < names.indexOf("report.html"));
});
