/**
 * `deno task bench-checkpoint [--vms N]`: a lab of N `builtin:debian` VMs
 * (default 4) ready for commands — agent answering, systemd done — two
 * ways in one run: cold-booted, and restored from a checkpoint of that lab
 * (no boot; each guest given fresh randomness and its new SSH key). Also
 * how long the lab stood still to be saved, and that a file written before
 * the checkpoint is there after the restore.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Lab, type LabSpec, saveCheckpoint } from "../mod.ts";
import { ensureDebianImage } from "../lib/vm/guest/debian.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { vms: { type: "string", default: "4" } },
});
const count = Number(values.vms);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const specs: LabSpec[] = Array.from(
  { length: count },
  (_, i) => ({ name: `deb${i + 1}`, guest: "builtin:debian" }),
);
const wait = { timeout: 600_000 };

/** Every VM's agent answers (and, booted, its systemd is done). */
async function whenReady(lab: Lab, booted: boolean): Promise<void> {
  const ready = await lab.all().run(async (vm) => {
    await vm.agent.waitReady(wait);
    if (booted) await vm.agent.exec("systemctl is-system-running --wait", wait);
  }, wait);
  ready.orThrow();
}

await ensureDebianImage();
const dir = await Deno.makeTempDir({ prefix: "corral-bench-checkpoint-" });
try {
  console.log(`${count} builtin:debian VMs, ready for commands, from the launch:`);
  let t = performance.now();
  const saved = await (async () => {
    await using lab = await Lab.launch(specs, { timeout: 600_000, templateCache: false });
    await whenReady(lab, true);
    console.log(`  cold boot: ${s(performance.now() - t)}`);
    await lab.all().run((vm) => vm.agent.exec(`echo ${vm.name} > /root/mine && sync`, wait));
    return await saveCheckpoint(lab.names.map((name) => lab.vm(name)), dir);
  })();
  console.log(`  checkpoint: the lab stood still ${saved.pausedMs} ms`);
  t = performance.now();
  await using lab = await Lab.launch(specs, { timeout: 600_000, checkpoint: saved });
  await whenReady(lab, false);
  console.log(`  restored from the checkpoint: ${s(performance.now() - t)}`);
  const kept = await lab.all().run(async (vm) => {
    const mine = await vm.agent.exec("cat /root/mine", wait);
    if (mine.stdout.trim() !== vm.name) throw new Error(`${vm.name}: /root/mine is ${mine.stdout}`);
  }, wait);
  kept.orThrow();
  console.log("  every guest's file written before the checkpoint is there");
} finally {
  await Deno.remove(dir, { recursive: true });
}
