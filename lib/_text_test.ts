import assert from "node:assert/strict";
import { formatMs, printable, shellWord } from "./_text.ts";

Deno.test("text: printable escapes what acts on a terminal or breaks XML, and keeps the rest", () => {
  assert.equal(printable("a\tb\nc"), "a\tb\nc");
  assert.equal(printable("\x1b]0;x\x07\x00\r"), "\\x1b]0;x\\x07\\x00\\x0d");
  assert.equal(printable("\u202eevil"), "\\u202eevil");
  assert.equal(printable("é 😀"), "é 😀");
  assert.equal(printable("\ud800x"), "\\ud800x");
});

Deno.test("text: shell words and durations", () => {
  assert.equal(shellWord("/tmp/a.sock"), "/tmp/a.sock");
  assert.equal(shellWord("it's"), `'it'\\''s'`);
  assert.equal(formatMs(999.6), "1000 ms");
  assert.equal(formatMs(2500), "2.5 s");
});
