/**
 * A switch port: a unix socket one QEMU NIC connects to (`-netdev
 * stream`), frames each preceded by their length (4 bytes, big-endian).
 * A QEMU started again connects anew; frames go to every connection open.
 * A port whose QEMU does not read (stopped, gone) drops frames past a
 * bound instead of holding the switch.
 *
 * @module
 */

import { concat } from "../_bytes.ts";

/** What a port may hold for a connection that does not read, in bytes: then it drops. */
const MAX_QUEUED = 4 * 1024 * 1024;
/** The largest frame a NIC may send (a 64 KiB GSO frame and its header). */
const MAX_FRAME = 65_550;

/** One connection's writes, in order, one at a time. */
class Writer {
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Queue `bytes`; false when the connection holds too much already. */
  write(bytes: Uint8Array): boolean {
    if (this.closed || this.#queued + bytes.length > MAX_QUEUED) return false;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!this.#writing) void this.#flush();
    return true;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const chunk = concat(this.#queue.splice(0));
        this.#queued -= chunk.length;
        for (let at = 0; at < chunk.length;) at += await this.#conn.write(chunk.subarray(at));
      }
    } catch {
      this.closed = true; // QEMU went away: its reader ends too
    } finally {
      this.#writing = false;
    }
  }
}

/** One port of a switch. */
export class Port {
  /** The VM whose NIC it serves. */
  readonly vm: string;
  /** Its socket. */
  readonly path: string;
  #listener: Deno.UnixListener;
  #conns = new Map<Deno.Conn, Writer>();
  #onFrame: (frame: Uint8Array) => void;
  #accepting: Promise<void>;
  #reading = new Set<Promise<void>>();

  private constructor(vm: string, path: string, onFrame: (frame: Uint8Array) => void) {
    this.vm = vm;
    this.path = path;
    this.#onFrame = onFrame;
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accepting = this.#accept();
  }

  /** Listen at `path`; `onFrame` gets each frame the NIC sends. */
  static listen(vm: string, path: string, onFrame: (frame: Uint8Array) => void): Port {
    return new Port(vm, path, onFrame);
  }

  /** Whether a NIC is connected. */
  get connected(): boolean {
    return [...this.#conns.values()].some((writer) => !writer.closed);
  }

  /** Send a frame to the NIC; false when none takes it (not connected, or not reading). */
  send(frame: Uint8Array): boolean {
    const bytes = new Uint8Array(4 + frame.length);
    new DataView(bytes.buffer).setUint32(0, frame.length);
    bytes.set(frame, 4);
    let taken = false;
    for (const writer of this.#conns.values()) taken = writer.write(bytes) || taken;
    return taken;
  }

  /** Stop listening and close the connections. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    for (const [conn, writer] of this.#conns) {
      writer.closed = true;
      try {
        conn.close();
      } catch {
        // Closed by the peer.
      }
    }
    await this.#accepting;
    await Promise.allSettled(this.#reading);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.set(conn, new Writer(conn));
        const reading = this.#read(conn).finally(() => this.#reading.delete(reading));
        this.#reading.add(reading);
      }
    } catch {
      // The listener was closed.
    }
  }

  /** Frames from one connection until it closes. */
  async #read(conn: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let pending: Uint8Array = new Uint8Array(0);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        pending = pending.length ? concat([pending, buffer.subarray(0, n)]) : buffer.slice(0, n);
        pending = this.#frames(pending);
      }
    } catch {
      // Closed, by the switch or by QEMU.
    } finally {
      const writer = this.#conns.get(conn);
      if (writer) writer.closed = true;
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }
  }

  /** Deliver the whole frames in `bytes`; returns what is left of the next one. */
  #frames(bytes: Uint8Array): Uint8Array {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    while (bytes.length - at >= 4) {
      const length = view.getUint32(at);
      if (length > MAX_FRAME) throw new RangeError(`a frame of ${length} bytes`);
      if (bytes.length - at - 4 < length) break;
      this.#onFrame(bytes.slice(at + 4, at + 4 + length));
      at += 4 + length;
    }
    return bytes.subarray(at);
  }
}
