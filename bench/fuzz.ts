/**
 * `deno task bench-fuzz [--seeds N]`: `corral fuzz` on the shipped
 * `recipes/replicas.yaml` (down only when both replicas freeze at once),
 * from seeds 1..N (default 3): which run found the failure, how many runs
 * shrinking took, the smallest schedule, and the time in all.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fuzzRecipe } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seeds: { type: "string", default: "3" } },
});
const file = new URL("../recipes/replicas.yaml", import.meta.url).pathname;
const text = await Deno.readTextFile(file);
console.log(
  "recipes/replicas.yaml, --faults stall,pause --targets one --duration 4s --settle 500ms",
);
for (let seed = 1; seed <= Number(values.seeds); seed++) {
  const began = performance.now();
  const result = await fuzzRecipe(text, file, {
    faults: ["stall", "pause"],
    targets: ["one"],
    duration: 4000,
    settle: 500,
    runs: 20,
    seed,
  });
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  const minimal = result.minimal;
  if (!minimal) {
    console.log(`  seed ${seed}: no failure in ${result.runs.length} runs (${seconds} s)`);
    continue;
  }
  const found = result.runs.findIndex((r) => r.failures.length) + 1;
  const schedule = minimal.schedule.faults
    .map((f) => `${f.fault} ${f.on.join(",")} ${f.at / 1000}+${f.for / 1000} s`).join("; ");
  console.log(
    `  seed ${seed}: found in run ${found}, shrunk in ${minimal.runs} runs ` +
      `(${minimal.confirmed ? "confirmed" : "not confirmed"}) to ${schedule}; ${seconds} s in all`,
  );
}
