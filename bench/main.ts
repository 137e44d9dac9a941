/**
 * `deno task bench [--json] [--reps N] [--only seq,fanout,…] [--max-vms N]`:
 * corral's `Vm` against a raw-socket QMP client, on the same QEMUs, in the
 * same run, interleaved. Prints medians (min–max) over the repetitions and
 * the ratio corral / raw; `--json` prints one JSON line per figure.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Fleet, Lab, Vm } from "../mod.ts";
import { RawQmp } from "./_raw.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    reps: { type: "string", default: "5" },
    only: { type: "string" },
    "max-vms": { type: "string", default: "200" },
  },
});
const REPS = Number(values.reps);
const MAX_VMS = Number(values["max-vms"]);
const ONLY = values.only?.split(",");
const N = 2000;
const CYCLES = 500;
const KS = [10, 50, 200].filter((k) => k <= MAX_VMS);

interface Figure {
  scenario: string;
  unit: string;
  better: "higher" | "lower";
  corral: number[];
  raw: number[];
  requestBytes?: number;
}

const figures: Figure[] = [];
const log = (line: string) => (values.json ? console.error(line) : console.log(line));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Run `raw` and `corral` alternately: a warm-up pair, then `REPS` measured pairs. */
async function measure(
  scenario: string,
  unit: string,
  better: "higher" | "lower",
  raw: () => Promise<number>,
  corral: () => Promise<number>,
  requestBytes?: number,
): Promise<void> {
  if (ONLY && !ONLY.some((name) => scenario.startsWith(name))) return;
  const figure: Figure = { scenario, unit, better, corral: [], raw: [] };
  if (requestBytes !== undefined) figure.requestBytes = requestBytes;
  await raw();
  await corral();
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate which goes first, so neither always gets the warmer cache.
    if (rep % 2 === 0) {
      figure.raw.push(await raw());
      figure.corral.push(await corral());
    } else {
      figure.corral.push(await corral());
      figure.raw.push(await raw());
    }
  }
  figures.push(figure);
  report(figure);
}

function ratio(figure: Figure): number {
  return median(figure.corral) / median(figure.raw);
}

function report(figure: Figure): void {
  const show = (xs: number[]) =>
    `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  if (values.json) {
    console.log(JSON.stringify({
      ...figure,
      corralMedian: median(figure.corral),
      rawMedian: median(figure.raw),
      ratio: ratio(figure),
    }));
  }
  log(
    `${figure.scenario.padEnd(18)} ${figure.unit.padEnd(9)} corral ${
      show(figure.corral).padEnd(26)
    } raw ${show(figure.raw).padEnd(26)} corral/raw ${ratio(figure).toFixed(3)}${
      figure.requestBytes ? `  request ${figure.requestBytes} B` : ""
    }`,
  );
}

const socketOf = (vm: Vm) => `${vm.dir}/qmp.sock`;

/** QEMUs with -machine none, their monitors left free for the clients under test. */
async function qemus(count: number): Promise<Lab> {
  const lab = await Lab.launch(
    Array.from({ length: count }, (_, i) => ({ name: `bench${i + 1}`, guest: "none" })),
    { concurrency: 8 },
  );
  await Promise.all(lab.names.map((name) => lab.vm(name).close()));
  return lab;
}

async function time(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

log(
  `corral bench: ${REPS} repetitions after a warm-up; ${Deno.build.target}, ${navigator.hardwareConcurrency} cores`,
);
const qemuVersion = new TextDecoder().decode(
  (await new Deno.Command(Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64", {
    args: ["--version"],
    stdout: "piped",
  }).output())
    .stdout,
).split("\n")[0];
log(`QEMU: ${qemuVersion}`);

{
  await using lab = await qemus(1);
  const path = socketOf(lab.vm("bench1"));
  const requestBytes = RawQmp.request("query-status", 1000).length;
  await measure("seq", "ops/s", "higher", async () => {
    const raw = await RawQmp.connect(path);
    const ms = await time(async () => {
      for (let i = 0; i < N; i++) {
        await raw.send("query-status");
        await raw.reply();
      }
    });
    raw.close();
    return (N / ms) * 1000;
  }, async () => {
    await using vm = await Vm.connect(`unix:${path}`);
    const ms = await time(async () => {
      for (let i = 0; i < N; i++) await vm.execute("query-status");
    });
    return (N / ms) * 1000;
  }, requestBytes);

  await measure("pipelined", "ops/s", "higher", async () => {
    const raw = await RawQmp.connect(path);
    const ms = await time(async () => {
      await raw.sendMany("query-status", N);
      for (let i = 0; i < N; i++) await raw.reply();
    });
    raw.close();
    return (N / ms) * 1000;
  }, async () => {
    await using vm = await Vm.connect(`unix:${path}`);
    const ms = await time(() =>
      Promise.all(Array.from({ length: N }, () => vm.execute("query-status")))
    );
    return (N / ms) * 1000;
  }, requestBytes);

  let missed = 0;
  await measure("events", "events/s", "higher", async () => {
    const raw = await RawQmp.connect(path);
    const ms = await time(async () => {
      for (let i = 0; i < CYCLES; i++) {
        await raw.send("stop");
        await raw.reply();
        await raw.send("cont");
        await raw.reply();
      }
      await raw.untilEvents("RESUME", CYCLES);
    });
    missed += 2 * CYCLES - (raw.events.get("STOP") ?? 0) - (raw.events.get("RESUME") ?? 0);
    raw.close();
    return (2 * CYCLES / ms) * 1000;
  }, async () => {
    await using vm = await Vm.connect(`unix:${path}`);
    let seen = 0;
    const reader = (async () => {
      for await (const _ of vm.events(["STOP", "RESUME"], { since: vm.mark() })) {
        if (++seen === 2 * CYCLES) return;
      }
    })();
    const ms = await time(async () => {
      for (let i = 0; i < CYCLES; i++) {
        await vm.execute("stop");
        await vm.execute("cont");
      }
      await reader;
    });
    missed += 2 * CYCLES - seen;
    return (2 * CYCLES / ms) * 1000;
  });
  if (!ONLY || ONLY.includes("events")) {
    log(`events missed (both clients, all repetitions): ${missed}`);
  }
}

if (!ONLY || ONLY.some((name) => ["fanout", "connect", "memory"].includes(name))) {
  await using lab = await qemus(Math.max(...KS));
  const paths = lab.names.map((name) => socketOf(lab.vm(name)));
  for (const k of KS) {
    const some = paths.slice(0, k);
    for (
      const [phase, command, event] of [["stop", "stop", "STOP"], [
        "cont",
        "cont",
        "RESUME",
      ]] as const
    ) {
      // Each measured phase starts from the state the other phase leaves.
      const prepare = phase === "stop" ? "cont" : "stop";
      await measure(`fanout-${phase} K=${k}`, "ms", "lower", async () => {
        const raws = await Promise.all(some.map((path) => RawQmp.connect(path)));
        await Promise.all(raws.map(async (raw) => {
          await raw.send(prepare);
          await raw.reply();
        }));
        for (const raw of raws) raw.events.clear();
        const ms = await time(() =>
          Promise.all(raws.map(async (raw) => {
            await raw.send(command);
            await raw.reply();
            await raw.untilEvents(event, 1);
          }))
        );
        for (const raw of raws) raw.close();
        return ms;
      }, async () => {
        const vms = await Promise.all(some.map((path) => Vm.connect(`unix:${path}`)));
        const fleet = new Fleet(vms);
        await fleet.execute(prepare, undefined, { concurrency: k });
        const ms = await time(async () => {
          const result = phase === "stop"
            ? await fleet.pause({ concurrency: k })
            : await fleet.resume({ concurrency: k });
          result.orThrow();
        });
        await Promise.all(vms.map((vm) => vm.close()));
        return ms;
      });
    }
    await measure(`connect K=${k}`, "ms", "lower", async () => {
      let raws: RawQmp[] = [];
      const ms = await time(async () =>
        raws = await Promise.all(some.map((path) => RawQmp.connect(path)))
      );
      for (const raw of raws) raw.close();
      return ms;
    }, async () => {
      let vms: Vm[] = [];
      const ms = await time(async () =>
        vms = await Promise.all(some.map((path) => Vm.connect(`unix:${path}`)))
      );
      await Promise.all(vms.map((vm) => vm.close()));
      return ms;
    });
  }
  if (!ONLY || ONLY.includes("memory")) {
    const k = paths.length;
    await measure(
      `memory K=${k}`,
      "KiB/VM",
      "lower",
      () => memoryPerVm("raw", paths),
      () => memoryPerVm("corral", paths),
    );
  }
}

/** RSS per connected VM over the runtime's base, each measured in a fresh process. */
async function memoryPerVm(kind: "raw" | "corral", paths: string[]): Promise<number> {
  const probe = async (sockets: string[]) => {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("./_memory.ts", import.meta.url).pathname,
        kind,
        ...sockets,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!success) throw new Error(`the memory probe failed for ${kind}`);
    return JSON.parse(new TextDecoder().decode(stdout)).rss as number;
  };
  const base = await probe([]);
  const loaded = await probe(paths);
  return (loaded - base) / 1024 / paths.length;
}

const targets: [string, (f: Figure) => boolean, string][] = [
  ["seq", (f) => ratio(f) >= 0.95, "≥ 0.95× raw ops/s"],
  ["pipelined", (f) => ratio(f) >= 0.95, "≥ 0.95× raw ops/s"],
  ["events", (f) => ratio(f) >= 0.95, "≥ 0.95× raw events/s"],
  ["fanout", (f) => ratio(f) <= 1.1, "≤ 1.1× raw time"],
  ["connect", (f) => ratio(f) <= 1.1, "≤ 1.1× raw time"],
  ["memory", (f) => median(f.corral) <= 50, "≤ 50 KiB per VM"],
];
log("");
for (const figure of figures) {
  const [, ok, text] = targets.find(([prefix]) => figure.scenario.startsWith(prefix))!;
  log(`${ok(figure) ? "meets " : "MISSES"} ${figure.scenario}: target ${text}`);
}
