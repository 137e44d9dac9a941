/**
 * Bringing a run's inventory up: its lab networks, then every VM launched
 * or attached as a `Lab` (across hosts, an unreachable host fails only its
 * own VMs).
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import { Lab, LabLaunchError } from "../vm/lab.ts";
import { LabNetworks } from "../vm/network.ts";
import type { StepRecord } from "./journal.ts";
import type { Plan } from "./plan.ts";
import type { RunClock } from "./report.ts";
import type { ReportDir } from "./report_dir.ts";
import type { RunOptions } from "./run_options.ts";
import type { Redactor } from "./secrets.ts";
import type { RunEvent } from "./run_events.ts";
import type { LabCheckpoint } from "../vm/checkpoint.ts";

/** What the run lends the bring-up. */
export interface BringUpContext {
  report: ReportDir | undefined;
  redact: Redactor;
  forks: number;
  signal: AbortSignal;
  /** Tell the run's listeners. */
  emit(event: RunEvent): void;
  /** What the VMs start from instead of booting (`--resume-from`). */
  checkpoint?: LabCheckpoint | undefined;
}

/** The lab and networks made (kept for cleanup also on failure), or why the run cannot go on. */
export interface BroughtUp {
  lab?: Lab | undefined;
  networks?: LabNetworks | undefined;
  /** Why the VMs could not be brought up: the run's verdict is then `error`. */
  error?: string;
}

/** Make the networks and launch (or attach) the plan's VMs. */
export async function bringUp(
  plan: Plan,
  options: RunOptions,
  context: BringUpContext,
): Promise<BroughtUp> {
  const { recipe } = plan;
  const inventory = recipe.inventory.filter((vm) => plan.vms.includes(vm.name));
  const up: BroughtUp = {};
  try {
    const networks = recipe.networks
      .map((n) => ({ ...n, members: n.members.filter((m) => plan.vms.includes(m.vm)) }))
      .filter((n) => n.members.length > 0);
    if (networks.length > 0) {
      up.networks = await LabNetworks.create(networks, { captureDir: options.reportDir });
    }
    up.lab = await Lab.launch(
      inventory.map((vm) => ({
        ...vm.spec!,
        nics: up.networks?.nicsOf(vm.name),
        name: vm.name,
        groups: vm.groups,
        attach: vm.attach,
        agentAddress: vm.agent,
      })),
      {
        concurrency: Math.min(context.forks, 8),
        signal: context.signal,
        keep: options.keep === true || options.keep === "on-failure",
        trace: tracer(options, context),
        hosts: recipe.hosts,
        // Across hosts, one that cannot be reached fails only its VMs; the others go on.
        partial: recipe.hosts.length > 0,
        ...(context.checkpoint ? { checkpoint: context.checkpoint } : {}),
      },
    );
  } catch (error) {
    if (error instanceof LaunchError) {
      return { ...up, error: `the lab networks could not be made: ${error.message}` };
    }
    if (!(error instanceof LabLaunchError)) throw error;
    for (const result of error.results) {
      const how = inventory.find((vm) => vm.name === result.vm)?.attach ? "attached" : "launched";
      if (result.status !== "ok") {
        context.emit({ type: "vm-lost", vm: result.vm, how, error: result.error.message });
      }
    }
    const first = error.results.find((result) => result.status !== "ok")!;
    const what = "error" in first ? first.error.message : "";
    const count = error.results.filter((r) => r.status !== "ok").length;
    return {
      ...up,
      error: `${count} VM(s) could not be brought up; ${first.vm}: ${what.split("\n")[0]}`,
    };
  }
  return up;
}

/** Every QMP message to the report's qmp.log and to `-v`, secrets masked there. */
function tracer(options: RunOptions, { report, redact }: BringUpContext) {
  const live = options.trace;
  return report || live
    ? (direction: "->" | "<-", message: string, vm: string) => {
      report?.qmp(vm, `${direction} ${message}`);
      live?.(redact.text(`${vm} ${direction} ${message}`));
    }
    : undefined;
}

/**
 * The "bring up" record of a lab some of whose VMs could not be brought up
 * (their host was unreachable): those take no step, not even `finally`,
 * and the verdict is `error`. `undefined` when all came up.
 */
export function absentRecord(
  names: readonly string[],
  failures: readonly { vm: string; error: Error }[],
  clock: RunClock,
): StepRecord | undefined {
  if (failures.length === 0) return undefined;
  const ms = clock.ms();
  const when = { startedAt: clock.iso(0), endedAt: clock.iso(ms), startMs: 0, endMs: ms };
  const record: StepRecord = {
    name: "bring up",
    path: "vms",
    action: "launch",
    targets: [],
    ...when,
  };
  for (const name of names) {
    const failure = failures.find((f) => f.vm === name);
    record.targets.push(
      failure
        ? { vm: name, status: "error", error: failure.error.message, ...when }
        : { vm: name, status: "ok", ...when },
    );
  }
  return record;
}
