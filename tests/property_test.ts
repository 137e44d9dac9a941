/**
 * Property-based tests (fast-check) of the layers that read hostile input:
 * the QMP framing, the client against a scripted peer that sends anything,
 * and the recipe parser. Every generated input ends in a result or a
 * CorralError within a deadline: never another error, a hang, or unbounded
 * memory.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { CorralError, parseRecipe, planRecipe, QmpClient } from "../mod.ts";
import { LineSplitter } from "../lib/qmp/mod.ts";
import { within } from "./_assert.ts";
import { fakePeer, GREETING } from "./_qemu.ts";

const encoder = new TextEncoder();

/** Run `fn`, which may throw only a CorralError. */
function onlyCorralErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CorralError, `not a CorralError: ${String(error)}`);
  }
}

Deno.test("property: framing gives back every line however the bytes are split", () => {
  fc.assert(
    fc.property(
      fc.array(fc.json({ maxDepth: 3 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (messages, cuts) => {
        const lines = messages.map((m) => m.replaceAll("\n", " ").trim()).filter((m) => m !== "");
        const bytes = encoder.encode(lines.map((line) => `${line}\r\n`).join(""));
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) =>
          a - b
        );
        const splitter = new LineSplitter();
        const out: string[] = [];
        let start = 0;
        for (const point of [...points, bytes.length]) {
          out.push(...splitter.push(bytes.subarray(start, point)));
          start = point;
        }
        splitter.end();
        assert.deepEqual(out, lines);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: framing of arbitrary bytes ends in lines or a ProtocolError, bounded", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 2000 }), { maxLength: 10 }), (chunks) => {
      const splitter = new LineSplitter(1024);
      onlyCorralErrors(() => {
        for (const chunk of chunks) splitter.push(chunk);
        splitter.end();
      });
      assert.ok(splitter.pendingBytes <= 1024);
    }),
    { numRuns: 300 },
  );
});

/** What a hostile peer may send after the greeting, as text lines or raw bytes. */
const hostileLine = fc.oneof(
  fc.constant('{"return": {}, "id": 2}'),
  fc.constant('{"error": {"class": "GenericError", "desc": "no"}, "id": 2}'),
  fc.constant('{"error": {"class": "GenericError", "desc": "parse"}}'),
  fc.constant('{"return": 1, "id": 99999999999999999999}'),
  fc.constant('{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}'),
  fc.constant('{"event": 7}'),
  fc.constant('{"QMP": {}}'),
  fc.constant("[1, 2, 3]"),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
);

Deno.test({
  name: "property: the client against a peer that sends anything ends in a result or a CorralError",
  // No QEMU in it: .ci/run's pass with the next QEMU build would only repeat it.
  ignore: Deno.env.get("CORRAL_CI_REPEAT") === "1",
}, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(hostileLine.map((line) => `${line}\r\n`), fc.string({ maxLength: 50 })), {
        maxLength: 8,
      }),
      fc.uint8Array({ maxLength: 16 }),
      async (lines, noise) => {
        await using peer = await fakePeer([
          { send: GREETING },
          { read: true },
          { send: '{"return": {}, "id": 1}\r\n' },
          { read: true },
          ...lines.map((send) => ({ send })),
          { sendBytes: noise },
          { hang: true },
        ]);
        const work = (async () => {
          const client = await QmpClient.connect(peer.address, { name: "p", timeout: 2000 });
          try {
            await client.execute("query-status", undefined, { timeout: 300 });
          } finally {
            await client.close();
          }
        })();
        await within(
          work.catch((error) => {
            assert.ok(error instanceof CorralError, `not a CorralError: ${String(error)}`);
          }),
          10_000,
          "the client",
        );
      },
    ),
    { numRuns: 60 },
  );
});

const VALID = `recipe: 1
name: prop
vars: { boot: 5s, api_key: k }
vms:
  defaults: { guest: none }
  web[1:3]: { groups: [web] }
  db1: { groups: [db] }
steps:
  - { name: booted, id: b, on: all, qmp: { execute: query-status } }
  - name: roll
    on: web
    serial: [1, "50%"]
    max-failures: 1
    block:
      - { name: p, pause: {} }
      - { name: r, resume: {}, timeout: "\${{ vars.boot }}" }
    rescue:
      - { name: fix, reset: {} }
  - { name: again, on: "\${{ steps.b.targets }}", wait-event: { event: RESUME } }
finally:
  - { name: stop, stop: { grace: 0s } }
metrics:
  m: { from: b.start, to: b.end, max: 1m }
`;

Deno.test("property: the recipe parser and planner end in a plan or a located RecipeError", () => {
  const mutation = fc.record({
    at: fc.nat(),
    cut: fc.nat({ max: 40 }),
    insert: fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        "{",
        "[",
        "*x",
        "&x ",
        "<<: ",
        "${{ ",
        "}}",
        ":",
        "- ",
        "\n  ",
        "'",
        '"',
        "\t",
      ),
    ),
  });
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => {
      let text = VALID;
      for (const { at, cut, insert } of mutations) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + insert + text.slice(i + cut);
      }
      onlyCorralErrors(() => planRecipe(parseRecipe(text, "prop.yaml"), 1));
    }),
    { numRuns: 1500 },
  );
});

Deno.test("property: arbitrary text is never more than a RecipeError", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (text) => {
      onlyCorralErrors(() => planRecipe(parseRecipe(text, "any.yaml"), 1));
    }),
    { numRuns: 1000 },
  );
});
