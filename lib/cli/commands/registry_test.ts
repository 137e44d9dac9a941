import assert from "node:assert/strict";
import { COMMANDS } from "./registry.ts";

Deno.test("commands: every file of lib/cli/commands is a registered command of its name", () => {
  const files = [...Deno.readDirSync(new URL(".", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith(".ts") && name !== "registry.ts" && !name.endsWith("_test.ts"))
    .map((name) => name.replace(/\.ts$/, ""))
    .sort();
  assert.deepEqual(files, COMMANDS.map((command) => command.name).sort());
});

Deno.test("commands: each has a usage that starts with its own name and documents its flags", () => {
  for (const command of COMMANDS) {
    assert.match(command.usage, new RegExp(`^usage: corral ${command.name}\\b`));
    for (const flag of Object.keys(command.flags).filter((f) => f !== "names")) {
      assert.match(command.usage, new RegExp(`--${flag}\\b`), `${command.name} --${flag}`);
    }
  }
});
