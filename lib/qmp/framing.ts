/**
 * QMP framing: one JSON object per line. QEMU ends every message with
 * `\r\n`; a bare `\n` is accepted too.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { concat } from "../_bytes.ts";

/** The default largest message, in bytes: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/**
 * The framing itself, without a stream around it: feed it chunks, get back
 * complete lines (without their `\r\n`, empty ones skipped). A line longer
 * than `maxBytes` throws a {@linkcode ProtocolError} instead of buffering
 * without bound, and so does {@linkcode LineSplitter.prototype.end} in the
 * middle of a line. The QMP client uses it directly on its socket reads,
 * which saves the promise hops of a stream per message (measured: see
 * docs/performance.md).
 *
 * @example
 * ```ts
 * import { LineSplitter } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * const splitter = new LineSplitter();
 * assert.deepEqual(splitter.push(new TextEncoder().encode('{"a":1}\r\n{"b"')), ['{"a":1}']);
 * assert.deepEqual(splitter.push(new TextEncoder().encode(':2}\r\n')), ['{"b":2}']);
 * splitter.end();
 * ```
 */
export class LineSplitter {
  // Strict: a byte sequence that is not UTF-8 is a protocol error, never a silent U+FFFD.
  #decoder = new TextDecoder("utf-8", { fatal: true });
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #maxBytes: number;

  /**
   * Make a splitter.
   *
   * @param maxBytes The largest line accepted; default 16 MiB.
   */
  constructor(maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** The complete lines `chunk` ends; a partial last line is kept (copied) for the next chunk. */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(LF); newline !== -1; newline = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, newline);
      if (this.#pendingBytes + piece.length > this.#maxBytes) throw tooLong(this.#maxBytes);
      const line = this.#pendingBytes === 0 ? piece : concat([...this.#pending, piece]);
      const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
      if (end > 0) lines.push(this.#decode(line.subarray(0, end)));
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.#pendingBytes += chunk.length - start;
      if (this.#pendingBytes > this.#maxBytes) throw tooLong(this.#maxBytes);
      this.#pending.push(chunk.slice(start));
    }
    return lines;
  }

  /** Bytes of an unfinished line held so far. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  #decode(bytes: Uint8Array): string {
    try {
      return this.#decoder.decode(bytes);
    } catch (cause) {
      throw new ProtocolError(
        `a QMP message is not valid UTF-8 (${bytes.length} bytes): QEMU always sends UTF-8`,
        { cause },
      );
    }
  }

  /**
   * The input has ended.
   *
   * @throws {ProtocolError} When it ended in the middle of a line.
   */
  end(): void {
    if (this.#pendingBytes > 0) {
      throw new ProtocolError(
        `the connection ended in the middle of a message (${this.#pendingBytes} bytes without an end of line)`,
      );
    }
  }
}

/**
 * {@linkcode LineSplitter} as a Web Streams transform: bytes in, lines out.
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
  /**
   * Make a line stream.
   *
   * @param maxBytes The largest line accepted; default 16 MiB.
   */
  constructor(maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    const splitter = new LineSplitter(maxBytes);
    super({
      transform(chunk, controller) {
        for (const line of splitter.push(chunk)) controller.enqueue(line);
      },
      flush() {
        splitter.end();
      },
    });
  }
}

function tooLong(maxBytes: number): ProtocolError {
  return new ProtocolError(
    `a QMP message is longer than ${maxBytes} bytes: raise maxMessageBytes if this is expected`,
  );
}
