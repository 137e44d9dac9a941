/**
 * `deno task bench-net [--mib N]`: lab networks. The switch alone (frames
 * between two fake NICs in this process: what it can forward for a whole
 * lab), then two builtin:linux VMs on corral's switch against the kernel's
 * bridge in one run: ping round trip (median of 20) and TCP throughput (N
 * MiB through busybox nc), both measured inside the guests. The bridge
 * needs root; without it only the switch is measured.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Lab, LabNetworks, type NetworkSpec, Switch } from "../mod.ts";
import { addresses } from "../lib/vm/network.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { mib: { type: "string", default: "32" } },
});
const mib = Number(values.mib);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Ping and throughput between two VMs on one network made `via` the switch or the bridge. */
async function measure(via: "switch" | "bridge"): Promise<{ rtt: number; mbps: number }> {
  const network: NetworkSpec = {
    name: "lan",
    subnet: "10.60.0.0/24",
    members: addresses("10.60.0.0/24", [`${via}-a`, `${via}-b`]),
    via,
  };
  await using networks = await LabNetworks.create([network]);
  await using lab = await Lab.launch(
    network.members.map(({ vm }) => ({
      name: vm,
      guest: "builtin:linux",
      nics: networks.nicsOf(vm),
    })),
    { timeout: 120_000 },
  );
  const [a, b] = [lab.vm(`${via}-a`), lab.vm(`${via}-b`)];
  await Promise.all([a, b].map((vm) => vm.agent.waitReady({ timeout: 120_000 })));
  const target = network.members[1]!.address.split("/")[0];
  const ping = await a.agent.exec(`ping -c 20 -i 0.2 ${target}`, { timeout: 60_000 });
  const rtts = [...ping.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  // busybox nc ends a connection when its own input ends: the listener's input never does.
  await b.agent.exec("(sleep 600 | nc -l -p 5001) > /tmp/got 2>/dev/null < /dev/null &");
  // The listener runs in the background: wait until it listens before sending.
  await b.agent.exec(
    "for i in $(seq 50); do netstat -ltn | grep -q :5001 && exit 0; sleep 0.1; done; exit 1",
  );
  const sent = await a.agent.exec(
    `s=$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero bs=65536 count=${mib * 16} 2>/dev/null | ` +
      `nc ${target} 5001; e=$(cut -d' ' -f1 /proc/uptime); echo "$s $e"`,
    { timeout: 600_000 },
  );
  const [start, end] = sent.stdout.trim().split(" ").map(Number);
  // What nc wrote may still be on its way: wait for all of it (within the agent's deadline).
  const got = Number(
    (await b.agent.exec(
      `for i in $(seq 100); do [ $(wc -c < /tmp/got) -ge ${
        mib * 1048576
      } ] && break; sleep 0.1; done; wc -c < /tmp/got`,
    )).stdout.trim(),
  );
  if (got !== mib * 1024 * 1024) throw new Error(`${via}: ${got} bytes arrived of ${mib} MiB`);
  return { rtt: median(rtts), mbps: (mib * 8 * 1.048576) / (end! - start!) };
}

/** The switch alone: 1500-byte frames from one fake NIC to another, as fast as it forwards them. */
async function switchAlone(frames: number): Promise<{ fps: number; mbps: number }> {
  await using sw = await Switch.start("bench", ["a", "b"]);
  const a = await Deno.connect({ transport: "unix", path: sw.socketOf("a") });
  const b = await Deno.connect({ transport: "unix", path: sw.socketOf("b") });
  try {
    const frame = new Uint8Array(4 + 1500);
    new DataView(frame.buffer).setUint32(0, 1500);
    frame.set([2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa], 4); // to b, from a
    const batch = new Uint8Array(frame.length * 64);
    for (let i = 0; i < 64; i++) batch.set(frame, i * frame.length);
    const t = performance.now();
    const receiving = (async () => {
      const buffer = new Uint8Array(1 << 20);
      for (let got = 0; got < frames * frame.length;) got += (await b.read(buffer)) ?? Infinity;
    })();
    for (let sent = 0; sent < frames; sent += 64) {
      for (let at = 0; at < batch.length;) at += await a.write(batch.subarray(at));
    }
    await receiving;
    const seconds = (performance.now() - t) / 1000;
    return { fps: frames / seconds, mbps: (frames * 1500 * 8) / seconds / 1e6 };
  } finally {
    a.close();
    b.close();
  }
}

const alone = await switchAlone(200_000);
console.log(
  `switch alone: ${(alone.fps / 1000).toFixed(0)}k frames/s of 1500 bytes, ${
    alone.mbps.toFixed(0)
  } Mbit/s`,
);
const kinds: ("switch" | "bridge")[] = Deno.uid() === 0 ? ["switch", "bridge"] : ["switch"];
for (const via of kinds) {
  const { rtt, mbps } = await measure(via);
  console.log(
    `${via.padEnd(6)} ping round trip: median ${rtt.toFixed(2)} ms; TCP ${
      mbps.toFixed(0)
    } Mbit/s (${mib} MiB)`,
  );
}
if (kinds.length === 1) console.log("bridge: not measured (it needs root)");
