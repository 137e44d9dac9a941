/**
 * `deno task bench-maintenance [--runs N]`: figures of maintenance under
 * this machine's QEMU: `vm.migrate()` (precopy and postcopy) of the tiny
 * and the Linux guest — QEMU's total time and downtime, and the whole call
 * (destination started, migrated, old QEMU stopped) — and snapshot save /
 * load and a full backup of a 64 MiB disk.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { launch, type Vm } from "../mod.ts";
import { LINUX_READY } from "../lib/vm/guest/linux.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { runs: { type: "string", default: "5" } },
});
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function migrations(vm: Vm, label: string): Promise<void> {
  for (const mode of ["precopy", "postcopy"] as const) {
    const total: number[] = [], down: number[] = [], call: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const moved = await vm.migrate({ mode, postcopyAfter: 100 });
      call.push(performance.now() - t);
      total.push(moved.totalTimeMs);
      down.push(moved.downtimeMs);
    }
    console.log(
      `${label} ${mode}: QEMU total ${ms(median(total))}, downtime ${ms(median(down))}, ` +
        `vm.migrate() ${ms(median(call))} (median of ${runs})`,
    );
  }
}

const version = (await new Deno.Command(Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64", {
  args: ["--version"],
  stdout: "piped",
}).output()).stdout;
console.log(new TextDecoder().decode(version).split("\n")[0]);

{
  await using tiny = await launch({ name: "bench-tiny", disks: [{ size: "64M" }] });
  await tiny.console.waitFor("READY");
  await migrations(tiny, "tiny guest (16 MiB)");
  const save: number[] = [], load: number[] = [], backup: number[] = [];
  const dir = await Deno.makeTempDir();
  for (let i = 0; i < runs; i++) {
    save.push(await timed(() => tiny.saveSnapshot(`s${i}`)));
    load.push(await timed(() => tiny.loadSnapshot(`s${i}`)));
  }
  // After the first backup the disk has a dirty bitmap, and QEMU then refuses snapshot-load.
  for (let i = 0; i < runs; i++) {
    backup.push(await timed(() => tiny.backup({ to: `${dir}/b${i}.qcow2` })));
  }
  await Deno.remove(dir, { recursive: true });
  console.log(
    `tiny guest, 64 MiB disk: snapshot save ${ms(median(save))}, load ${ms(median(load))}, ` +
      `full backup ${ms(median(backup))} (median of ${runs})`,
  );
}
{
  await using linux = await launch({ name: "bench-lx", guest: "builtin:linux" }, {
    timeout: 120_000,
  });
  await linux.console.waitFor(LINUX_READY, { timeout: 120_000 });
  await linux.agent.waitReady({ timeout: 120_000 });
  await migrations(linux, "Linux guest (256 MiB)");
  const back = await timed(() => linux.agent.ping());
  console.log(`Linux guest: agent answers after the moves in ${ms(back)}`);
}
