import assert from "node:assert/strict";
import { resolveSelector, SelectorError } from "./select.ts";

const lab = [
  { name: "web1", groups: ["web", "edge"] },
  { name: "web2", groups: ["web"] },
  { name: "db1", groups: ["db"] },
  { name: "db2", groups: ["db"] },
];

Deno.test("select: names, groups, globs, all, exclusions, unions; inventory order", () => {
  assert.deepEqual(resolveSelector("db2", lab), ["db2"]);
  assert.deepEqual(resolveSelector("web", lab), ["web1", "web2"]);
  assert.deepEqual(resolveSelector("*2", lab), ["web2", "db2"]);
  assert.deepEqual(resolveSelector("all", lab), ["web1", "web2", "db1", "db2"]);
  assert.deepEqual(resolveSelector("all:!db", lab), ["web1", "web2"]);
  assert.deepEqual(resolveSelector(["db2", "edge"], lab), ["web1", "db2"]);
});

Deno.test("select: an unknown name or group says so with a did-you-mean; an empty glob too", () => {
  assert.throws(() => resolveSelector("db3", lab), SelectorError);
  assert.throws(() => resolveSelector("wbe", lab), (error: Error) => /web/.test(error.message));
  assert.throws(() => resolveSelector("x*", lab), SelectorError);
});
