/**
 * The chaos soak: many QMP-only VMs, round after round of pause / resume /
 * status fan-out while some VMs are SIGKILLed and others SIGSTOPped. Every
 * round checks that healthy VMs answer, killed ones fail at once naming the
 * VM, and stopped ones time out without blocking the rest; afterwards the
 * killed ones are relaunched and the stopped ones continued. Reports per
 * round latency (median, p99), open file descriptors, heap, and what is
 * left when it is over.
 */

import {
  ConnectionClosedError,
  DeadlineError,
  Fleet,
  Lab,
  TimeoutError,
  type Vm,
  type VmResult,
} from "../mod.ts";
import { runtimeBase } from "../lib/_runtime_dir.ts";
import { processes } from "../lib/vm/_procs.ts";

/** Options of {@linkcode soak}. */
export interface SoakOptions {
  /** VMs to launch. */
  vms: number;
  /** Rounds of chaos. */
  rounds: number;
  /** VMs killed per round. Default: 5 % (at least 1). */
  kill?: number;
  /** VMs SIGSTOPped per round. Default: 5 % (at least 1). */
  stop?: number;
  /** Per-VM deadline of a fan-out call, in ms. Default 2,000. */
  timeout?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One round's figures. */
export interface SoakRound {
  /** The round, from 1. */
  round: number;
  /** Fan-out latency of the healthy VMs (pause, resume, status), ms. */
  medianMs: number;
  /** 99th percentile of the same, ms. */
  p99Ms: number;
  /** Killed VMs whose calls failed with ConnectionClosedError naming them. */
  killedFailedFast: number;
  /** Stopped VMs reported as timed out. */
  stoppedTimedOut: number;
  /** Healthy VMs with every call ok. */
  healthyOk: number;
  /** Calls that ended in a way the round did not expect. */
  surprises: string[];
  /** Open file descriptors of this process after the round. */
  fds: number;
  /** V8 heap in use after the round, MiB. */
  heapMiB: number;
}

/** The whole soak. */
export interface SoakReport {
  /** VMs launched. */
  vms: number;
  /** Milliseconds to launch them all. */
  launchMs: number;
  /** Every round. */
  rounds: SoakRound[];
  /** File descriptors before launching and after shutting down. */
  fds: { before: number; after: number };
  /** Runtime directories and QEMU processes left after shutdown. */
  leftovers: { dirs: string[]; processes: number[] };
}

/** Run the soak. */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const timeout = options.timeout ?? 2000;
  const share = (given: number | undefined) => given ?? Math.max(1, Math.floor(options.vms * 0.05));
  const fdsBefore = openFds();
  const started = performance.now();
  const names = Array.from({ length: options.vms }, (_, i) => `soak${i + 1}`);
  const lab = await Lab.launch(names.map((name) => ({ name, guest: "none" })), {
    concurrency: 8,
  });
  const launchMs = performance.now() - started;
  const pids = new Set(names.map((name) => lab.vm(name).pid!));
  log(`${options.vms} VMs launched in ${Math.round(launchMs)} ms`);
  const rounds: SoakRound[] = [];
  try {
    for (let round = 1; round <= options.rounds; round++) {
      rounds.push(
        await chaosRound(lab, names, round, share(options.kill), share(options.stop), timeout),
      );
      const r = rounds.at(-1)!;
      log(
        `round ${round}: median ${r.medianMs.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ` +
          `${r.healthyOk} healthy ok, ${r.killedFailedFast} killed failed fast, ` +
          `${r.stoppedTimedOut} stopped timed out, ${r.surprises.length} surprises, ` +
          `${r.fds} fds, heap ${r.heapMiB.toFixed(1)} MiB`,
      );
    }
  } finally {
    for (const name of names) pids.add(lab.vm(name).pid!); // relaunched ones too
    await lab.shutdown({ grace: 0 });
  }
  const base = await runtimeBase();
  const dirs = [...Deno.readDirSync(base)].map((e) => e.name).filter((n) => n.startsWith("soak"));
  const running = await processes();
  return {
    vms: options.vms,
    launchMs,
    rounds,
    fds: { before: fdsBefore, after: openFds() },
    leftovers: { dirs, processes: [...pids].filter((pid) => running.has(pid)) },
  };
}

async function chaosRound(
  lab: Lab,
  names: string[],
  round: number,
  killCount: number,
  stopCount: number,
  timeout: number,
): Promise<SoakRound> {
  // Victims differ each round: a simple stride keeps the soak repeatable.
  const pick = (count: number, offset: number) =>
    Array.from({ length: count }, (_, i) => names[(round * 7 + offset + i * 3) % names.length]!);
  const killed = new Set(pick(killCount, 0));
  const stopped = new Set(pick(stopCount, 1).filter((name) => !killed.has(name)));
  for (const name of killed) await lab.vm(name).kill();
  for (const name of stopped) Deno.kill(lab.vm(name).pid!, "SIGSTOP");
  const fleet = lab.all();
  const latencies: number[] = [];
  const surprises: string[] = [];
  const ok = new Map(names.map((name) => [name, true]));
  let killedFailedFast = 0;
  let stoppedTimedOut = 0;
  for (const call of ["pause", "resume", "status"] as const) {
    const results = await fleet[call]({ timeout, concurrency: 64 });
    for (const result of results) {
      if (killed.has(result.vm)) {
        const fast = result.status === "error" && result.error instanceof ConnectionClosedError &&
          result.error.vm === result.vm;
        if (fast) killedFailedFast++;
        else surprises.push(`${call} ${result.vm} (killed): ${describe(result)}`);
      } else if (stopped.has(result.vm)) {
        const timedOut = result.status === "timeout" ||
          (result.status === "error" && result.error instanceof TimeoutError);
        if (timedOut) stoppedTimedOut++;
        else surprises.push(`${call} ${result.vm} (stopped): ${describe(result)}`);
      } else if (result.status === "ok") latencies.push(result.ms);
      else {
        ok.set(result.vm, false);
        surprises.push(`${call} ${result.vm}: ${describe(result)}`);
      }
    }
  }
  for (const name of stopped) Deno.kill(lab.vm(name).pid!, "SIGCONT");
  await recover([...killed].map((name) => lab.vm(name)));
  latencies.sort((a, b) => a - b);
  return {
    round,
    medianMs: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    killedFailedFast: killedFailedFast / 3,
    stoppedTimedOut: stoppedTimedOut / 3,
    healthyOk: names.filter((name) => !killed.has(name) && !stopped.has(name) && ok.get(name))
      .length,
    surprises,
    fds: openFds(),
    heapMiB: Deno.memoryUsage().heapUsed / 2 ** 20,
  };
}

async function recover(vms: Vm[]): Promise<void> {
  (await new Fleet(vms).run((vm) => vm.relaunch(), { concurrency: 8, timeout: 60_000 })).orThrow();
}

function describe(result: VmResult<unknown>): string {
  if (result.status === "ok") return "ok";
  const kind = result.error instanceof DeadlineError ? "deadline" : result.status;
  return `${kind}: ${result.error.message}`;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** This process's open file descriptors (needs --allow-all: /proc is guarded). */
function openFds(): number {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return -1;
  }
}
