/**
 * The baseline: a minimal QMP client on a raw socket, no library. It greets,
 * negotiates, writes compact requests with integer ids and reads lines. It
 * does no deadlines, no journal, no validation: the physical limit that
 * corral is measured against.
 */

import { concat } from "../lib/_bytes.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One raw QMP connection. */
export class RawQmp {
  #conn: Deno.UnixConn;
  #buffer = new Uint8Array(1 << 20);
  #start = 0;
  #end = 0;
  #id = 0;
  /** Events read while waiting for replies, counted by name. */
  events = new Map<string, number>();

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  /** Connect, read the greeting, negotiate. */
  static async connect(path: string): Promise<RawQmp> {
    const raw = new RawQmp(await Deno.connect({ transport: "unix", path }));
    await raw.#line(); // greeting
    await raw.send("qmp_capabilities");
    await raw.reply();
    return raw;
  }

  /** The request bytes for `command`, as this client sends them. */
  static request(command: string, id: number): Uint8Array {
    return encoder.encode(`{"execute":"${command}","id":${id}}`);
  }

  /** Send one command (no wait). */
  async send(command: string): Promise<void> {
    const bytes = RawQmp.request(command, ++this.#id);
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /** Send many commands in one write. */
  async sendMany(command: string, count: number): Promise<void> {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < count; i++) parts.push(RawQmp.request(command, ++this.#id));
    const bytes = concat(parts);
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /** Read until the next reply; events on the way are counted. */
  async reply(): Promise<unknown> {
    while (true) {
      const message = JSON.parse(await this.#line());
      if ("event" in message) {
        this.events.set(message.event, (this.events.get(message.event) ?? 0) + 1);
      } else return message;
    }
  }

  /** Read until `name` has been seen `count` times in all. */
  async untilEvents(name: string, count: number): Promise<void> {
    while ((this.events.get(name) ?? 0) < count) {
      const message = JSON.parse(await this.#line());
      if ("event" in message) {
        this.events.set(message.event, (this.events.get(message.event) ?? 0) + 1);
      }
    }
  }

  close(): void {
    this.#conn.close();
  }

  async #line(): Promise<string> {
    while (true) {
      const newline = this.#buffer.subarray(this.#start, this.#end).indexOf(10);
      if (newline !== -1) {
        const line = decoder.decode(this.#buffer.subarray(this.#start, this.#start + newline));
        this.#start += newline + 1;
        return line;
      }
      if (this.#start > 0) {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const n = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (n === null) throw new Error("QMP connection closed");
      this.#end += n;
    }
  }
}
