/**
 * The bytes a guest agent sent that nobody consumed yet, bounded: a guest
 * that floods its channel while corral is idle costs at most `limit`
 * bytes. Past it, what is buffered is discarded and counted (the next
 * command syncs again). Appending is amortised O(1) and consuming moves
 * an offset, so a long line costs linear time, not a copy per read.
 *
 * @module
 */

/** A bounded byte queue. */
export class Unread {
  #bytes = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** The most bytes kept unread. */
  readonly limit: number;
  /** Bytes discarded because the queue was full, in all. */
  discarded = 0;

  /** A queue that keeps at most `limit` bytes. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** How many bytes are queued. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** Queue `chunk`; returns false (and discards everything queued) when it would pass the limit. */
  push(chunk: Uint8Array): boolean {
    if (this.length + chunk.length > this.limit) {
      this.discarded += this.length + chunk.length;
      this.clear();
      return false;
    }
    if (this.#end + chunk.length > this.#bytes.length) this.#makeRoom(chunk.length);
    this.#bytes.set(chunk, this.#end);
    this.#end += chunk.length;
    return true;
  }

  /** Where `byte` first is at or after `from` (relative to the front), or -1. */
  indexOf(byte: number, from = 0): number {
    const at = this.#bytes.subarray(this.#start + from, this.#end).indexOf(byte);
    return at === -1 ? -1 : at + from;
  }

  /** Remove and return the first `n` bytes. */
  take(n: number): Uint8Array {
    const bytes = this.#bytes.slice(this.#start, this.#start + n);
    this.drop(n);
    return bytes;
  }

  /** Remove the first `n` bytes. */
  drop(n: number): void {
    this.#start = Math.min(this.#end, this.#start + n);
    if (this.#start === this.#end) this.clear();
  }

  /** Remove everything. */
  clear(): void {
    this.#start = this.#end = 0;
  }

  #makeRoom(more: number): void {
    const needed = this.length + more;
    if (needed <= this.#bytes.length / 2) {
      this.#bytes.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(Math.max(needed, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(this.#start, this.#end));
      this.#bytes = grown;
    }
    this.#end = this.length;
    this.#start = 0;
  }
}
