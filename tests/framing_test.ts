import assert from "node:assert/strict";
import { LineStream, ProtocolError } from "../lib/qmp/mod.ts";
import { rejectsWith } from "./_assert.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function lines(chunks: Uint8Array[], max?: number): Promise<string[]> {
  return Array.fromAsync(ReadableStream.from(chunks).pipeThrough(new LineStream(max)));
}

Deno.test("LineStream splits on \\r\\n and \\n, skipping empty lines", async () => {
  assert.deepEqual(await lines([bytes('{"a":1}\r\n\r\n{"b":2}\n{"c":3}\r\n')]), [
    '{"a":1}',
    '{"b":2}',
    '{"c":3}',
  ]);
});

Deno.test("LineStream joins a message split across many chunks, even mid-character", async () => {
  const whole = bytes('{"text":"é→✓"}\r\n');
  const oneByteChunks = [...whole].map((byte) => new Uint8Array([byte]));
  assert.deepEqual(await lines(oneByteChunks), ['{"text":"é→✓"}']);
});

Deno.test("LineStream rejects a line over the limit, with or without its newline", async () => {
  await rejectsWith(lines([bytes("x".repeat(11) + "\n")], 10), ProtocolError, /longer than 10/);
  await rejectsWith(lines([bytes("x".repeat(6)), bytes("x".repeat(6))], 10), ProtocolError);
  assert.deepEqual(await lines([bytes("x".repeat(10) + "\r\n")], 11), ["x".repeat(10)]);
});

Deno.test("LineStream reports a stream cut in the middle of a message", async () => {
  await rejectsWith(lines([bytes('{"a":1}\r\n{"ret')]), ProtocolError, /middle of a message/);
});
