/**
 * `deno task bench-linux [--runs N]`: figures of the builtin:linux guest
 * under this machine's QEMU: boot to agent-ready, NMI → GUEST_PANICKED,
 * reset → agent-ready, and agent round trips (ping, exec).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { launch } from "../mod.ts";
import { LINUX_READY } from "../lib/vm/guest/linux.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "3" } },
});
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;
const boot: number[] = [];
const panic: number[] = [];
const recover: number[] = [];
const ping: number[] = [];
const exec: number[] = [];
for (let run = 0; run < runs; run++) {
  let t = performance.now();
  await using vm = await launch({ name: `bench-linux${run}`, guest: "builtin:linux" }, {
    timeout: 120_000,
  });
  await vm.console.waitFor(LINUX_READY, { timeout: 120_000 });
  await vm.agent.waitReady({ timeout: 120_000 });
  boot.push(performance.now() - t);
  for (let i = 0; i < 20; i++) {
    t = performance.now();
    await vm.agent.ping();
    ping.push(performance.now() - t);
    t = performance.now();
    await vm.agent.exec("true");
    exec.push(performance.now() - t);
  }
  t = performance.now();
  const panicked = vm.waitFor("GUEST_PANICKED", { timeout: 30_000 });
  await vm.injectNmi();
  await panicked;
  panic.push(performance.now() - t);
  t = performance.now();
  await vm.reset();
  await vm.agent.waitReady({ timeout: 120_000 });
  recover.push(performance.now() - t);
}
const version = (await new Deno.Command(Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64", {
  args: ["--version"],
  stdout: "piped",
}).output()).stdout;
console.log(new TextDecoder().decode(version).split("\n")[0]);
console.log(`boot → agent ready: median ${ms(median(boot))} of ${runs}`);
console.log(`NMI → GUEST_PANICKED: median ${ms(median(panic))} of ${runs}`);
console.log(`reset → agent ready: median ${ms(median(recover))} of ${runs}`);
console.log(`agent ping round trip: median ${ms(median(ping))} of ${ping.length}`);
console.log(`agent exec "true" round trip: median ${ms(median(exec))} of ${exec.length}`);
