/**
 * `deno task bench-hosts [--hosts N --vms M]`: what one corral process
 * serves across SSH hosts, measured with simulated hosts (network
 * namespaces with their own sshd, as the tests make; needs root): connect
 * and launch times, a `query-status` round trip through SSH against one
 * here, a fan-out across every VM, and what it costs here (file
 * descriptors, processes, memory).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Lab, type LabSpec, launch } from "../mod.ts";
import { testHosts } from "../tests/_hosts.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { hosts: { type: "string", default: "2" }, vms: { type: "string", default: "20" } },
});
const hostCount = Number(values.hosts);
const perHost = Number(values.vms);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(2)} ms`;
const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
const processes = async (pattern: string) => {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-c", "-f", pattern],
    stdout: "piped",
  })
    .output();
  return Number(new TextDecoder().decode(stdout).trim() || 0);
};
const rssOf = async (pattern: string) => {
  const { stdout } = await new Deno.Command("sh", {
    args: [
      "-c",
      `ps -o rss= -p $(pgrep -d, -f '${pattern}') 2>/dev/null | awk '{s+=$1} END {print s+0}'`,
    ],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim()) / 1024;
};

async function roundTrips(vm: { status(): Promise<unknown> }, n = 200): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await vm.status();
    times.push(performance.now() - t);
  }
  return median(times);
}

// Not `await using` at the top level: an uncaught error would exit before the hosts are removed.
const hosts = await testHosts(hostCount);
try {
  const fdsBefore = fds();
  const heapBefore = Deno.memoryUsage().rss / 2 ** 20;
  const specs: LabSpec[] = hosts.specs.flatMap((h) =>
    Array.from(
      { length: perHost },
      (_, i) => ({ name: `${h.name}-vm${i + 1}`, guest: "none", host: h.name }),
    )
  );
  let t = performance.now();
  await using lab = await Lab.launch(specs, { hosts: hosts.specs, concurrency: 8 });
  const launched = performance.now() - t;
  const remote = await roundTrips(lab.vm(specs[0]!.name));
  await using here = await launch({ name: "bench-here", guest: "none" });
  const local = await roundTrips(here);
  const fanout: number[] = [];
  for (let round = 0; round < 20; round++) {
    t = performance.now();
    (await lab.all().status()).orThrow();
    fanout.push(performance.now() - t);
  }
  const total = specs.length;
  console.log(`${hostCount} hosts × ${perHost} VMs (guest none) = ${total} VMs on SSH hosts`);
  console.log(
    `connect the hosts and launch every VM: ${ms(launched)} (${ms(launched / total)} per VM)`,
  );
  console.log(
    `query-status round trip: ${ms(remote)} through SSH, ${ms(local)} here (median of 200)`,
  );
  console.log(`fan-out query-status to all ${total}: median ${ms(median(fanout))} of 20`);
  console.log(
    `file descriptors here: ${fdsBefore} before, ${fds()} with the lab (+${
      ((fds() - fdsBefore) / total).toFixed(1)
    } per VM)`,
  );
  console.log(
    `ssh processes here: ${await processes("ssh .*-M -N")} masters, ${await processes(
      "ssh .*ControlMaster=no",
    )} session clients`,
  );
  console.log(
    `memory here: corral ${
      (Deno.memoryUsage().rss / 2 ** 20 - heapBefore).toFixed(1)
    } MiB more RSS, ` +
      `ssh clients ${(await rssOf("ssh .*ControlMaster=no")).toFixed(1)} MiB RSS in all`,
  );
} finally {
  await hosts[Symbol.asyncDispose]();
}
