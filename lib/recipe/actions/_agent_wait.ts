/**
 * What the agent's waits share: try a command in the guest again and again
 * until it says "done" or "failed", within the step's deadline, and say
 * what it last saw when the deadline passes.
 *
 * @module
 */

import { StepFailure, TimeoutError } from "../../errors.ts";
import type { AgentExecResult } from "../../agent/options.ts";
import type { RunContext } from "./action.ts";
import { delay } from "../../_async.ts";

/** What one look says: done (the wait is over), failed (stop now, saying why), or not yet. */
export type Look = { done: true; output?: unknown } | { failed: string } | { notYet: string };

/**
 * Run `command` in the guest every `every` ms until `judge` says done or
 * failed, or the step's deadline passes (a `TimeoutError` naming what it
 * last saw). A command that itself fails to run is "not yet": the guest may
 * still be booting.
 */
export async function waitInGuest(
  { vm, timeout, signal }: RunContext,
  command: string,
  judge: (result: AgentExecResult) => Look,
  every = 500,
): Promise<unknown> {
  const until = Date.now() + timeout;
  let last = "nothing ran yet";
  let attempts = 0;
  while (true) {
    signal.throwIfAborted();
    const left = until - Date.now();
    if (left <= 0) break;
    attempts++;
    try {
      const look = judge(await vm.agent.exec(command, { timeout: left, signal }));
      if ("done" in look) return look.output ?? { attempts };
      if ("failed" in look) throw new StepFailureOf(look.failed, vm.name);
      last = look.notYet;
    } catch (error) {
      if (error instanceof StepFailureOf || signal.aborted) throw error;
      last = (error as Error).message;
    }
    await delay(Math.min(every, Math.max(0, until - Date.now())), { signal });
  }
  throw new TimeoutError(`${last} (still, after ${attempts} attempt(s) in ${timeout} ms)`, {
    vm: vm.name,
    timeout,
  });
}

/** A failure the judge saw: it ends the wait at once. */
class StepFailureOf extends StepFailure {
  constructor(message: string, vm: string) {
    super(message, { vm });
  }
}
