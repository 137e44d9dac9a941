import assert from "node:assert/strict";
import { collectSuite, tagsMatch } from "./collect.ts";

Deno.test("collect: tags pick; shards split the suite without overlap; a matrix multiplies the recipes that declare it", async () => {
  assert.ok(tagsMatch(["smoke", "linux"], ["smoke", "!slow"]));
  assert.ok(!tagsMatch(["smoke", "slow"], ["smoke", "!slow"]));
  assert.ok(!tagsMatch([], ["smoke"]));
  const dir = await Deno.makeTempDir({ prefix: "corral-collect-" });
  try {
    for (let i = 0; i < 12; i++) {
      await Deno.writeTextFile(
        `${dir}/r${i}.yaml`,
        `recipe: 1\nname: r${i}\n${
          i === 0 ? "vars: { n: 1 }\n" : ""
        }vms:\n  a: {}\nsteps:\n  - { name: s, sleep: 1ms }\n`,
      );
    }
    await Deno.writeTextFile(`${dir}/other.yaml`, "just: data\n");
    const all = await collectSuite([dir], { matrix: { n: ["1", "2"] } });
    assert.equal(all.length, 13); // r0 twice (n=1, n=2), the others once, other.yaml not a recipe
    assert.deepEqual(all.filter((e) => e.path.endsWith("/r0.yaml")).map((e) => e.id), [
      `${dir}/r0.yaml[n=1]`,
      `${dir}/r0.yaml[n=2]`,
    ]);
    assert.equal(all[0]!.memoryMiB, 16 + 64);
    const parts = await Promise.all(
      [1, 2, 3].map((index) => collectSuite([dir], { shard: { index, count: 3 } })),
    );
    const ids = parts.flat().map((e) => e.id).sort();
    assert.deepEqual(ids, (await collectSuite([dir])).map((e) => e.id).sort());
    assert.ok(parts.every((p) => p.length < 12), "each shard has a part, not all");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
