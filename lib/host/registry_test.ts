import assert from "node:assert/strict";
import { ATTACH_KINDS, HOST_KINDS } from "./registry.ts";

Deno.test("hosts: every host kind and attach kind defined in lib/host is registered", async () => {
  const files = [...Deno.readDirSync(new URL(".", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith(".ts") && !name.startsWith("_") && !name.endsWith("_test.ts"));
  let found = 0;
  for (const file of files) {
    for (const [name, value] of Object.entries(await import(`./${file}`))) {
      const v = value as Record<string, unknown> | null;
      if (typeof v !== "object" || v === null) continue;
      if (typeof v.connect === "function" && typeof v.name === "string") {
        assert.ok(HOST_KINDS.includes(v as never), `${file}: ${name} is not in registry.ts`);
        found++;
      }
      if (typeof v.open === "function" && typeof v.matches === "function") {
        assert.ok(ATTACH_KINDS.includes(v as never), `${file}: ${name} is not in registry.ts`);
        found++;
      }
    }
  }
  assert.equal(found, HOST_KINDS.length + ATTACH_KINDS.length);
});
