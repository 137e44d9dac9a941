/**
 * `deno task bench-guest [--vms N]`: the built-in guest's figures: launch
 * to READY for N VMs at once, idle CPU per VM, and NMI → GUEST_PANICKED →
 * reset → READY recovery, median of N. Runs with -A: reading /proc needs it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Lab } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { vms: { type: "string", default: "20" } },
});
const count = Number(values.vms);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ticks = async (pids: number[]) => {
  let total = 0;
  for (const pid of pids) {
    const fields = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1]!.split(" ");
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
};

const start = performance.now();
await using lab = await Lab.launch(
  Array.from({ length: count }, (_, i) => ({ name: `g${i + 1}` })),
);
const launched = performance.now() - start;
(await lab.all().run((vm) => vm.console.waitFor("READY"))).orThrow();
const ready = performance.now() - start;
console.log(
  `${count} VMs: all negotiated in ${launched.toFixed(0)} ms, all READY in ${ready.toFixed(0)} ms`,
);

const pids = lab.names.map((name) => lab.vm(name).pid!);
const hz = 100; // USER_HZ on Linux
const before = await ticks(pids);
const seconds = 5;
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const used = (await ticks(pids)) - before;
console.log(
  `idle: ${used} CPU ticks in ${seconds} s for ${count} VMs = ${
    (used / hz / seconds / count * 100).toFixed(3)
  } % of a core per VM`,
);

const recovery = await lab.all().run(async (vm) => {
  const t0 = performance.now();
  await vm.injectNmi();
  await vm.waitFor("GUEST_PANICKED");
  const panicked = performance.now() - t0;
  await vm.reset();
  await vm.console.waitFor("READY");
  return { panicked, back: performance.now() - t0 };
}, { concurrency: 1 });
const values2 = [...recovery.orThrow().values.values()];
console.log(
  `one at a time: NMI → GUEST_PANICKED median ${
    median(values2.map((v) => v.panicked)).toFixed(1)
  } ms; ` +
    `NMI → reset → READY median ${median(values2.map((v) => v.back)).toFixed(0)} ms`,
);
