/**
 * A capture file in the classic pcap format (Ethernet frames, microsecond
 * times), which Wireshark and tcpdump read. Frames are buffered and
 * written in large writes; `close` writes what is left.
 *
 * @module
 */

const FLUSH_AT = 256 * 1024;
const SNAPLEN = 65_535;
const ETHERNET = 1;

/** One capture file. */
export class Pcap {
  #file: Deno.FsFile;
  #chunks: Uint8Array[] = [];
  #size = 0;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Create `path` (private to this user) with the pcap header. */
  static async create(path: string): Promise<Pcap> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
    const pcap = new Pcap(file);
    const header = new DataView(new ArrayBuffer(24));
    header.setUint32(0, 0xa1b2c3d4, true);
    header.setUint16(4, 2, true);
    header.setUint16(6, 4, true);
    header.setUint32(16, SNAPLEN, true);
    header.setUint32(20, ETHERNET, true);
    pcap.#add(new Uint8Array(header.buffer));
    return pcap;
  }

  /** Record a frame as seen now. */
  write(frame: Uint8Array): void {
    const now = Math.floor((performance.timeOrigin + performance.now()) * 1000); // µs since the epoch
    const length = Math.min(frame.length, SNAPLEN);
    const record = new Uint8Array(16 + length);
    const view = new DataView(record.buffer);
    view.setUint32(0, Math.floor(now / 1e6), true);
    view.setUint32(4, now % 1e6, true);
    view.setUint32(8, length, true);
    view.setUint32(12, frame.length, true);
    record.set(frame.subarray(0, length), 16);
    this.#add(record);
  }

  /** Write what is buffered and close the file. */
  close(): Promise<void> {
    this.#flush();
    this.#file.close();
    return Promise.resolve();
  }

  #add(bytes: Uint8Array): void {
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    if (this.#size >= FLUSH_AT) this.#flush();
  }

  #flush(): void {
    for (const chunk of this.#chunks.splice(0)) {
      for (let at = 0; at < chunk.length;) at += this.#file.writeSync(chunk.subarray(at));
    }
    this.#size = 0;
  }
}
