import assert from "node:assert/strict";
import { circles, importGraph, privateImports } from "./check_imports.ts";

Deno.test("check_imports: finds a circle, types included, and nothing in a tree", () => {
  const graph = new Map([
    ["lib/a/x.ts", ["lib/a/y.ts"]],
    ["lib/a/y.ts", ["lib/b/z.ts"]],
    ["lib/b/z.ts", ["lib/a/x.ts"]],
    ["lib/c.ts", ["lib/a/x.ts"]],
  ]);
  assert.deepEqual(circles(graph), [["lib/a/x.ts", "lib/a/y.ts", "lib/b/z.ts"]]);
  graph.set("lib/b/z.ts", []);
  assert.deepEqual(circles(graph), []);
});

Deno.test("check_imports: a private file is for its folder, those below and the one above", () => {
  const graph = new Map([
    ["lib/vm/a.ts", ["lib/vm/_p.ts", "lib/_text.ts", "lib/vm/guest/_img.ts"]],
    ["lib/vm/guest/b.ts", ["lib/vm/_p.ts"]],
    ["lib/host/c.ts", ["lib/vm/_p.ts", "lib/_text.ts"]],
  ]);
  assert.deepEqual(privateImports(graph), [
    "lib/host/c.ts imports lib/vm/_p.ts, private to lib/vm/",
  ]);
});

Deno.test("check_imports: reads import, export and type-only forms", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/lib`);
    await Deno.writeTextFile(
      `${dir}/lib/a.ts`,
      'import { x } from "./b.ts";\nimport type {\n  Y,\n} from "./c.ts";\nexport * from "./d.ts";\n',
    );
    const graph = importGraph([`${dir}/lib/a.ts`]);
    assert.deepEqual(graph.get(`${dir}/lib/a.ts`), [
      `${dir}/lib/b.ts`,
      `${dir}/lib/c.ts`,
      `${dir}/lib/d.ts`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
