/** The package's entry points: `.`, `./qmp` and `./host` (no YAML or glob dependencies), `./recipe`. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));

/** The npm packages a module graph pulls in. */
async function npmPackages(entry: string): Promise<string[]> {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(success, `deno info ${entry}`);
  const info = JSON.parse(new TextDecoder().decode(stdout));
  return info.modules.filter((m: { kind: string }) => m.kind === "npm").map((
    m: { npmPackage: string },
  ) => m.npmPackage.replace(/@[^@]*$/, ""));
}

Deno.test("exports: ., ./qmp, ./recipe and ./host", () => {
  assert.deepEqual(config.exports, {
    ".": "./mod.ts",
    "./qmp": "./lib/qmp/mod.ts",
    "./recipe": "./lib/recipe/mod.ts",
    "./host": "./lib/host/mod.ts",
  });
});

Deno.test("exports: ./qmp pulls in no YAML or glob package; the root exports no report internals", async () => {
  for (const layer of ["lib/qmp/mod.ts", "lib/host/mod.ts"]) {
    const packages = await npmPackages(layer);
    assert.ok(!packages.includes("yaml") && !packages.includes("minimatch"), packages.join(", "));
  }
  assert.ok((await npmPackages("mod.ts")).includes("yaml"));
  const api = await import("../mod.ts");
  for (
    const internal of ["ReportDir", "RunClock", "Redactor", "writeRecord", "qemuArgs", "startVm"]
  ) {
    assert.ok(!(internal in api), `${internal} is exported`);
  }
});

Deno.test("layers: the recipe runner drives VMs only through the public Vm/Lab/Fleet API", async () => {
  for (const dir of ["lib/recipe", "lib/recipe/actions", "lib/cli"]) {
    for (const entry of Deno.readDirSync(`${root}${dir}`)) {
      if (!entry.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(`${root}${dir}/${entry.name}`);
      assert.ok(
        !/from "(\.\.\/)+vm\/_/.test(text),
        `${dir}/${entry.name} imports a private vm module`,
      );
      assert.ok(!/\bvm\.client\b/.test(text), `${dir}/${entry.name} reaches into vm.client`);
    }
  }
});
