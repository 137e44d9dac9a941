/**
 * QMP framing: one JSON object per line. QEMU ends every message with
 * `\r\n`; a bare `\n` is accepted too.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/** The default largest message, in bytes: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits a byte stream into lines (without their `\r\n`), skipping empty
 * ones. A line longer than `maxBytes` errors the stream with a
 * {@linkcode ProtocolError} instead of buffering without bound, and so does
 * a stream that ends in the middle of a line.
 *
 * @example
 * ```ts
 * import { LineStream } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode('{"a":1}\r\n{"b"');
 * const tail = new TextEncoder().encode(':2}\r\n');
 * const lines = await Array.fromAsync(
 *   ReadableStream.from([bytes, tail]).pipeThrough(new LineStream()),
 * );
 * assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
 * ```
 */
export class LineStream extends TransformStream<Uint8Array, string> {
  /** @param maxBytes The largest line accepted; default 16 MiB. */
  constructor(maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    const decoder = new TextDecoder();
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const emit = (line: Uint8Array, controller: TransformStreamDefaultController<string>) => {
      const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      if (end > 0) controller.enqueue(decoder.decode(line.subarray(0, end)));
    };
    super({
      transform(chunk, controller) {
        let start = 0;
        for (let newline = chunk.indexOf(LF); newline !== -1; newline = chunk.indexOf(LF, start)) {
          const piece = chunk.subarray(start, newline);
          if (pendingBytes + piece.length > maxBytes) throw tooLong(maxBytes);
          emit(pendingBytes === 0 ? piece : join([...pending, piece]), controller);
          pending = [];
          pendingBytes = 0;
          start = newline + 1;
        }
        if (start < chunk.length) {
          pendingBytes += chunk.length - start;
          if (pendingBytes > maxBytes) throw tooLong(maxBytes);
          // Copy: the reader may reuse the chunk's buffer.
          pending.push(chunk.slice(start));
        }
      },
      flush() {
        if (pendingBytes > 0) {
          throw new ProtocolError(
            `the connection ended in the middle of a message (${pendingBytes} bytes without an end of line)`,
          );
        }
      },
    });
  }
}

function tooLong(maxBytes: number): ProtocolError {
  return new ProtocolError(
    `a QMP message is longer than ${maxBytes} bytes: raise maxMessageBytes if this is expected`,
  );
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
