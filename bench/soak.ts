/**
 * `deno task soak [--vms N] [--rounds N] [--json]`: the chaos soak (see
 * `_soak.ts`). Prints a line per round and a summary; exits 1 when a call
 * ended unexpectedly or anything was left behind.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { soak } from "./_soak.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    vms: { type: "string", default: "50" },
    rounds: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const log = (line: string) => (values.json ? console.error(line) : console.log(line));
const report = await soak({
  vms: Number(values.vms),
  rounds: Number(values.rounds),
  log,
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const surprises = report.rounds.flatMap((round) => round.surprises);
log(
  `${report.vms} VMs, ${report.rounds.length} rounds: launch ${Math.round(report.launchMs)} ms; ` +
    `fan-out median ${median(report.rounds.map((r) => r.medianMs)).toFixed(1)} ms, ` +
    `p99 ${Math.max(...report.rounds.map((r) => r.p99Ms)).toFixed(1)} ms (worst round); ` +
    `fds ${report.fds.before} → ${report.fds.after}; ` +
    `heap ${Math.max(...report.rounds.map((r) => r.heapMiB)).toFixed(1)} MiB at most; ` +
    `${surprises.length} surprises; left: ${report.leftovers.dirs.length} dirs, ` +
    `${report.leftovers.processes.length} QEMUs`,
);
for (const surprise of surprises) log(`  surprise: ${surprise}`);
if (values.json) console.log(JSON.stringify(report));
const clean = surprises.length === 0 && report.leftovers.dirs.length === 0 &&
  report.leftovers.processes.length === 0;
Deno.exit(clean ? 0 : 1);
