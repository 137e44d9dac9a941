import assert from "node:assert/strict";
import { parseDuration, showDuration } from "./duration.ts";

Deno.test("duration: units, decimals, bare numbers as seconds; anything else is undefined", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration(" 2 m "), 120_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration(3), 3000);
  for (const bad of ["", "5", "5 sec", "-1s", "1e3s", -1, Infinity, null, {}]) {
    assert.equal(parseDuration(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("duration: shown for people in ms below a second, else seconds", () => {
  assert.equal(showDuration(250), "250 ms");
  assert.equal(showDuration(1500), "1.5 s");
  assert.equal(showDuration(120_000), "120 s");
});
