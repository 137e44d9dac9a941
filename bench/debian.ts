/**
 * `deno task bench-debian [--vms N]`: N `builtin:debian` VMs (default 10)
 * ready for commands — agent answering, systemd done, each named — three
 * ways in one run: cold-booted; from a warm template booted and saved on
 * the way (an empty template cache); from the template the cache now holds.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Lab, type LabSpec } from "../mod.ts";
import { ensureDebianImage } from "../lib/vm/guest/debian.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { vms: { type: "string", default: "10" } },
});
const count = Number(values.vms);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const specs = (template?: "warm"): LabSpec[] =>
  Array.from(
    { length: count },
    (_, i) => ({ name: `deb${i + 1}`, guest: "builtin:debian", template }),
  );

/** Launch, then wait until every VM's systemd is done: the time from the start. */
async function ready(template: "warm" | undefined, cache: string): Promise<number> {
  const t = performance.now();
  await using lab = await Lab.launch(specs(template), { timeout: 600_000, templateCache: cache });
  const booted = await lab.all().run(
    async (vm) => {
      await vm.agent.waitReady({ timeout: 600_000 });
      await vm.agent.exec("systemctl is-system-running --wait", { timeout: 600_000 });
    },
    { timeout: 600_000 },
  );
  booted.orThrow();
  return performance.now() - t;
}

await ensureDebianImage();
const cache = await Deno.makeTempDir({ prefix: "corral-bench-templates-" });
try {
  console.log(`${count} builtin:debian VMs, systemd done and named, from the launch:`);
  console.log(`  cold boot: ${s(await ready(undefined, cache))}`);
  console.log(`  warm template, booted and saved on the way: ${s(await ready("warm", cache))}`);
  console.log(`  warm template from the cache: ${s(await ready("warm", cache))}`);
} finally {
  await Deno.remove(cache, { recursive: true });
}
