/**
 * `deno task bench-suite [--recipes N] [--jobs J]`: a suite of N small
 * recipes (default 30: a builtin:linux VM boots, its agent answers, a
 * command runs), one at a time and then J at once admitted by memory, in
 * one run: the wall time of each.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { collectSuite } from "../lib/recipe/suite/collect.ts";
import { defaultBudgetMiB, MemoryBudget } from "../lib/recipe/suite/admission.ts";
import { runSuite, suitePassed } from "../lib/recipe/suite/run_suite.ts";
import { ensureLinuxGuest } from "../lib/vm/guest/linux.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { recipes: { type: "string", default: "30" }, jobs: { type: "string", default: "4" } },
});
await ensureLinuxGuest();
const dir = await Deno.makeTempDir({ prefix: "corral-bench-suite-" });
try {
  for (let i = 1; i <= Number(values.recipes); i++) {
    await Deno.writeTextFile(
      `${dir}/r${i}.yaml`,
      `recipe: 1\nname: r${i}\nvms:\n  a: { guest: builtin:linux }\nsteps:\n` +
        `  - { name: up, wait-agent: {}, timeout: 120s }\n` +
        `  - { name: work, agent: { exec: "uname -r" } }\n`,
    );
  }
  const entries = await collectSuite([dir]);
  const budget = defaultBudgetMiB();
  for (const jobs of [1, Number(values.jobs)]) {
    const t = performance.now();
    const results = await runSuite(entries, { jobs, budget: new MemoryBudget(budget) });
    const s = ((performance.now() - t) / 1000).toFixed(1);
    console.log(
      `${entries.length} recipes, ${jobs} at once (budget ${budget} MiB): ${s} s` +
        (suitePassed(results) ? "" : " — SOME FAILED"),
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
