import assert from "node:assert/strict";
import { deadline } from "../_async.ts";
import { Switch } from "./switch.ts";

/** A NIC as QEMU's `-netdev stream` is one: length-prefixed frames over the port's socket. */
class FakeNic {
  #conn: Deno.UnixConn;
  #pending = new Uint8Array(0);

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  static async connect(path: string): Promise<FakeNic> {
    return new FakeNic(await Deno.connect({ transport: "unix", path }));
  }

  async send(frame: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(4 + frame.length);
    new DataView(bytes.buffer).setUint32(0, frame.length);
    bytes.set(frame, 4);
    await this.#conn.write(bytes);
  }

  /** The next frame, within 5 s. */
  async next(): Promise<Uint8Array> {
    return await deadline(this.#next(), 5000, {
      onTimeout: () => new Error("no frame came from the switch within 5 s"),
    });
  }

  async #next(): Promise<Uint8Array> {
    for (;;) {
      if (this.#pending.length >= 4) {
        const length = new DataView(this.#pending.buffer, this.#pending.byteOffset).getUint32(0);
        if (this.#pending.length >= 4 + length) {
          const frame = this.#pending.slice(4, 4 + length);
          this.#pending = this.#pending.slice(4 + length);
          return frame;
        }
      }
      const chunk = new Uint8Array(65536);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("the switch closed the port");
      const joined = new Uint8Array(this.#pending.length + n);
      joined.set(this.#pending);
      joined.set(chunk.subarray(0, n), this.#pending.length);
      this.#pending = joined;
    }
  }

  close(): void {
    this.#conn.close();
  }
}

const MAC = { a: [2, 0, 0, 0, 0, 0xa], b: [2, 0, 0, 0, 0, 0xb], c: [2, 0, 0, 0, 0, 0xc] };
const BROADCAST = [255, 255, 255, 255, 255, 255];

function frame(to: number[], from: number[], payload: string): Uint8Array {
  return new Uint8Array([...to, ...from, 0x88, 0xb5, ...new TextEncoder().encode(payload)]);
}
const payload = (f: Uint8Array) => new TextDecoder().decode(f.subarray(14));

const DHCP = {
  server: "10.44.0.1",
  prefix: 24,
  leases: new Map([["a", "10.44.0.2/24"], ["b", "10.44.0.3/24"], ["c", "10.44.0.4/24"]]),
};

async function lab(capture?: string) {
  const sw = await Switch.start("lan", ["a", "b", "c"], { capture, dhcp: DHCP });
  const nics = {
    a: await FakeNic.connect(sw.socketOf("a")),
    b: await FakeNic.connect(sw.socketOf("b")),
    c: await FakeNic.connect(sw.socketOf("c")),
  };
  return {
    sw,
    nics,
    async [Symbol.asyncDispose]() {
      for (const nic of Object.values(nics)) nic.close();
      await sw.close();
    },
  };
}

Deno.test("switch: floods what it does not know, then sends to the port a MAC was learned on", async () => {
  await using l = await lab();
  const { a, b, c } = l.nics;
  await a.send(frame(BROADCAST, MAC.a, "hello all"));
  assert.equal(payload(await b.next()), "hello all");
  assert.equal(payload(await c.next()), "hello all");
  await b.send(frame(MAC.a, MAC.b, "to a only"));
  assert.equal(payload(await a.next()), "to a only");
  // c saw nothing of it: the next frame c gets is the one sent after.
  await a.send(frame(BROADCAST, MAC.a, "after"));
  assert.equal(payload(await c.next()), "after");
});

Deno.test("switch: a block drops frames between a VM and its peers, in the direction asked, until undone", async () => {
  await using l = await lab();
  const { a, b, c } = l.nics;
  const undo = l.sw.block("a", ["b"], "both");
  await a.send(frame(BROADCAST, MAC.a, "from a"));
  assert.equal(payload(await c.next()), "from a"); // processed: b would have had it first
  await c.send(frame(BROADCAST, MAC.c, "from c"));
  assert.equal(payload(await b.next()), "from c");
  assert.equal(payload(await a.next()), "from c");
  await b.send(frame(BROADCAST, MAC.b, "from b"));
  assert.equal(payload(await c.next()), "from b");
  await c.send(frame(BROADCAST, MAC.c, "again from c"));
  assert.equal(payload(await a.next()), "again from c");
  assert.equal(payload(await b.next()), "again from c");
  assert.equal(l.sw.counters.blocked, 2);
  undo();
  await a.send(frame(BROADCAST, MAC.a, "healed"));
  assert.equal(payload(await b.next()), "healed");

  const inOnly = l.sw.block("a", ["b"], "in");
  await a.send(frame(BROADCAST, MAC.a, "a may send"));
  assert.equal(payload(await b.next()), "a may send");
  await b.send(frame(MAC.a, MAC.b, "b may not reach a"));
  await c.send(frame(MAC.a, MAC.c, "c may"));
  assert.equal(payload(await a.next()), "c may");
  inOnly();
});

Deno.test("switch: impairments drop, duplicate and corrupt a VM's outgoing frames; undone, frames pass as sent", async () => {
  await using l = await lab();
  const { a, b } = l.nics;
  const lose = l.sw.impair("a", { loss: 100 });
  await a.send(frame(BROADCAST, MAC.a, "lost"));
  await until(() => l.sw.counters.received === 1);
  lose();
  await a.send(frame(BROADCAST, MAC.a, "kept"));
  assert.equal(payload(await b.next()), "kept"); // the lost one would have come first
  const twice = l.sw.impair("a", { duplicate: 100 });
  await a.send(frame(BROADCAST, MAC.a, "twice"));
  assert.equal(payload(await b.next()), "twice");
  assert.equal(payload(await b.next()), "twice");
  twice();
  const flip = l.sw.impair("a", { corrupt: 100 });
  const sent = frame(BROADCAST, MAC.a, "corrupted");
  await a.send(sent);
  const got = await b.next();
  const bits = got.reduce((n, byte, i) => n + popcount(byte ^ sent[i]!), 0);
  assert.equal(bits, 1);
  flip();
});

Deno.test("switch: a delayed VM's frames arrive in order; a capture is a pcap file of every frame", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-switch-" });
  try {
    {
      await using l = await lab(`${dir}/lan.pcap`);
      const { a, b } = l.nics;
      l.sw.impair("a", { delay: 30 });
      for (const n of [1, 2, 3]) await a.send(frame(BROADCAST, MAC.a, `n${n}`));
      for (const n of [1, 2, 3]) assert.equal(payload(await b.next()), `n${n}`);
    }
    const pcap = await Deno.readFile(`${dir}/lan.pcap`);
    const view = new DataView(pcap.buffer);
    assert.equal(view.getUint32(0, true), 0xa1b2c3d4);
    assert.equal(view.getUint32(20, true), 1); // Ethernet
    let records = 0;
    for (let at = 24; at < pcap.length; at += 16 + view.getUint32(at + 8, true)) records++;
    assert.equal(records, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Wait until the switch has done something (it runs in this process: a few turns of the loop). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 10_000) throw new Error("the switch did not get the frame");
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function popcount(byte: number): number {
  let n = 0;
  for (let b = byte; b; b >>= 1) n += b & 1;
  return n;
}

/** A DHCP message from `mac` (xid 0x1234abcd): Ethernet, IPv4, UDP 68 → 67, BOOTREQUEST. */
function dhcpRequest(mac: number[], type: number): Uint8Array {
  const bootp = new Uint8Array(240 + 4);
  bootp.set([1, 1, 6, 0, 0x12, 0x34, 0xab, 0xcd]);
  bootp.set(mac, 28);
  bootp.set([99, 130, 83, 99], 236);
  bootp.set([53, 1, type, 255], 240);
  const udp = [0, 68, 0, 67, 0, 8 + bootp.length, 0, 0];
  const ip = [0x45, 0, 0, 20 + 8 + bootp.length, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0];
  return new Uint8Array([...BROADCAST, ...mac, 8, 0, ...ip, 255, 255, 255, 255, ...udp, ...bootp]);
}

/** A reply's message type, the address it gives, the server, and whether its IPv4 checksum holds. */
function dhcpAnswer(f: Uint8Array) {
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (f[i]! << 8) | f[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const bootp = f.subarray(42);
  return {
    type: bootp[242],
    xid: [...bootp.subarray(4, 8)],
    yiaddr: [...bootp.subarray(16, 20)].join("."),
    server: [...f.subarray(26, 30)].join("."),
    checksum: sum === 0xffff,
  };
}

Deno.test("switch: a guest that asks DHCP gets its VM's address from the switch; the request goes no further", async () => {
  await using l = await lab();
  const { a, b, c } = l.nics;
  await b.send(dhcpRequest(MAC.b, 1)); // DISCOVER
  const offer = dhcpAnswer(await b.next());
  assert.deepEqual(offer, {
    type: 2,
    xid: [0x12, 0x34, 0xab, 0xcd],
    yiaddr: "10.44.0.3",
    server: "10.44.0.1",
    checksum: true,
  });
  await b.send(dhcpRequest(MAC.b, 3)); // REQUEST
  assert.equal(dhcpAnswer(await b.next()).type, 5); // ACK
  // Neither a nor c saw the requests: the next frame they get is the one sent after.
  await b.send(frame(BROADCAST, MAC.b, "after"));
  assert.equal(payload(await a.next()), "after");
  assert.equal(payload(await c.next()), "after");
});
