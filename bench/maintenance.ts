/**
 * `deno task bench-maintenance [--runs N]`: figures of maintenance under
 * this machine's QEMU: `vm.migrate()` (precopy and postcopy) of the tiny
 * and the Linux guest — QEMU's total time and downtime, and the whole call
 * (destination started, migrated, old QEMU stopped) — snapshot save /
 * load and a full backup of a 64 MiB disk, a backup set's full backup of
 * a 1 GiB disk against its incremental one after 10 MiB of writes, and a
 * move onto QEMU 10.0 (when `deno task setup --backports` installed it).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { backupSet, Lab, type LabSpec, launch, type Vm } from "../mod.ts";
import { LINUX_READY } from "../lib/vm/guest/linux.ts";
import { prepareTemplates } from "../lib/vm/template.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "5" },
    clones: { type: "string", default: "10" },
    // `--storage`: only the backup set, copy-storage and QEMU-upgrade figures.
    storage: { type: "boolean", default: false },
  },
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

if (!values.storage) {
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
/** Fill `mib` MiB of disk `disk` with data, through QEMU's block layer (qemu-io). */
async function fill(vm: Vm, disk: string, mib: number, from = 0): Promise<void> {
  for (let at = from; at < from + mib; at += Math.min(128, mib)) {
    await vm.execute("human-monitor-command", {
      "command-line": `qemu-io ${disk} "write -P 0x5a ${at}M ${Math.min(128, mib)}M"`,
    });
  }
}

{
  // A backup set on a 1 GiB disk full of data.
  const dir = await Deno.makeTempDir();
  await using vm = await launch({
    name: "bench-set",
    disks: [{ name: "data", file: `${dir}/data.qcow2`, size: "1G" }],
  });
  await fill(vm, "data", 1024);
  let t = performance.now();
  const full = await backupSet(vm, { dir: `${dir}/set`, sync: "full" });
  const fullMs = performance.now() - t;
  await fill(vm, "data", 10, 512);
  t = performance.now();
  const inc = await backupSet(vm, { dir: `${dir}/set` });
  const incMs = performance.now() - t;
  console.log(
    `backup set, 1 GiB disk: full ${ms(fullMs)} (${full.bytes / 2 ** 20} MiB), incremental after ` +
      `10 MiB of writes ${ms(incMs)} (${inc.bytes / 2 ** 20} MiB)`,
  );
  await Deno.remove(dir, { recursive: true });
}
{
  // The same Linux VM with a 1 GiB disk full of data, moved with its disk copied, then without.
  await using lx = await launch({
    name: "bench-copy",
    guest: "builtin:linux",
    disks: [{ name: "data", size: "1G" }],
  }, { timeout: 120_000 });
  await lx.agent.waitReady({ timeout: 120_000 });
  await fill(lx, "data", 1024);
  let t = performance.now();
  const copied = await lx.migrate({ copyStorage: true, timeout: 600_000 });
  const copyMs = performance.now() - t;
  t = performance.now();
  const shared = await lx.migrate();
  console.log(
    `Linux guest, 1 GiB disk: copy-storage ${ms(copyMs)} (downtime ${ms(copied.downtimeMs)}, ` +
      `${(copied.storageBytes! / 2 ** 20).toFixed(0)} MiB copied), shared storage ` +
      `${ms(performance.now() - t)} (downtime ${ms(shared.downtimeMs)})`,
  );
}
const newer = "/opt/corral-qemu-backports/bin/qemu-system-x86_64";
if (await Deno.stat(newer).then(() => true, () => false)) {
  await using lx = await launch({ name: "bench-up", guest: "builtin:linux" }, { timeout: 120_000 });
  await lx.agent.waitReady({ timeout: 120_000 });
  const t = performance.now();
  const moved = await lx.migrate({ qemu: newer });
  console.log(
    `Linux guest onto QEMU 10.0 (machine ${moved.machine}): downtime ${ms(moved.downtimeMs)}, ` +
      `QEMU total ${ms(moved.totalTimeMs)}, vm.migrate({ qemu }) ${ms(performance.now() - t)}`,
  );
}
if (!values.storage) {
  await using linux = await launch({ name: "bench-lx", guest: "builtin:linux" }, {
    timeout: 120_000,
  });
  await linux.console.waitFor(LINUX_READY, { timeout: 120_000 });
  await linux.agent.waitReady({ timeout: 120_000 });
  await migrations(linux, "Linux guest (256 MiB)");
  const back = await timed(() => linux.agent.ping());
  console.log(`Linux guest: agent answers after the moves in ${ms(back)}`);
}

if (!values.storage) {
  const count = Number(values.clones);
  const specs = (template?: "warm"): LabSpec[] =>
    Array.from(
      { length: count },
      (_, i) => ({ name: `clone${i + 1}`, guest: "builtin:linux", template }),
    );
  const ready = async (lab: Lab) => {
    (await lab.all().run((vm) => vm.agent.waitReady({ timeout: 300_000 }), { timeout: 300_000 }))
      .orThrow();
  };
  let t = performance.now();
  {
    await using cold = await Lab.launch(specs(), { timeout: 300_000 });
    await ready(cold);
    console.log(`${count} Linux VMs cold-booted, agent ready: ${ms(performance.now() - t)}`);
  }
  t = performance.now();
  const template = await prepareTemplates(specs("warm").slice(0, 1), {
    timeout: 300_000,
    templateCache: false,
  });
  const prepared = performance.now() - t;
  await template.remove();
  console.log(`the template alone (boot to agent ready, save the state): ${ms(prepared)}`);
  t = performance.now();
  {
    await using warm = await Lab.launch(specs("warm"), { timeout: 300_000, templateCache: false });
    await ready(warm);
    console.log(
      `${count} Linux VMs from a warm template (its boot and save included), agent ready and named: ` +
        ms(performance.now() - t),
    );
  }
}
