import assert from "node:assert/strict";
import { subsetMatch } from "../mod.ts";

Deno.test("subsetMatch: nested objects match as subsets", () => {
  const data = { action: "pause", info: { type: "s390", core: 1, extra: [1, 2] } };
  assert.ok(subsetMatch(data, {}));
  assert.ok(subsetMatch(data, { info: { type: "s390" } }));
  assert.ok(subsetMatch(data, { info: { extra: [1, 2] } }));
  assert.ok(!subsetMatch(data, { info: { type: "hyper-v" } }));
  assert.ok(!subsetMatch(data, { missing: undefined }));
});

Deno.test("subsetMatch: arrays need equal length, primitives strict equality", () => {
  assert.ok(!subsetMatch([1, 2, 3], [1, 2]));
  assert.ok(subsetMatch([{ a: 1, b: 2 }], [{ a: 1 }]));
  assert.ok(!subsetMatch({ 0: 1 }, [1]));
  assert.ok(!subsetMatch("1", 1));
  assert.ok(!subsetMatch(null, {}));
  assert.ok(subsetMatch(null, null));
});
