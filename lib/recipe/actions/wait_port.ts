import { delay } from "../../_async.ts";
import { TimeoutError } from "../../errors.ts";
import { portAnswers } from "../../vm/forward.ts";
import { defineAction } from "./action.ts";
import { noHostlink, PORT_OPTIONS } from "./_hostlink.ts";

/**
 * `wait-port: { port }`: wait until the guest's TCP port takes a connection
 * from outside the guest — through a forward from this machine (made if
 * none is) — and, when the VM has an agent, until the guest lists it as
 * listening (a forward alone cannot tell a guest that is not up yet from
 * one that accepted).
 */
export default defineAction({
  key: "wait-port",
  summary: "wait until the guest's TCP port takes connections from outside it (through a forward)",
  options: PORT_OPTIONS,
  mutates: () => false,
  requires: () => "launched",
  unfit: (_action, vm) => noHostlink(vm),
  async run(action, { vm, timeout, signal }) {
    const until = Date.now() + timeout;
    const host = await vm.forward(action.port, { timeout, signal });
    let attempts = 0;
    while (Date.now() < until) {
      attempts++;
      if (await listening(vm, action.port, signal) && await portAnswers(host)) {
        return { port: action.port, host: `127.0.0.1:${host}`, attempts };
      }
      await delay(Math.min(500, Math.max(0, until - Date.now())), { signal });
    }
    throw new TimeoutError(
      `port ${action.port} took no connection through 127.0.0.1:${host} ` +
        `(${attempts} attempt(s) in ${timeout} ms)`,
      { vm: vm.name, timeout },
    );
  },
});

/** Whether the guest lists a TCP socket listening on `port` (yes when there is no agent to ask). */
async function listening(
  vm: { hasAgent: boolean; agent: { exec(c: string, o: object): Promise<{ stdout: string }> } },
  port: number,
  signal: AbortSignal,
): Promise<boolean> {
  if (!vm.hasAgent) return true;
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  // /proc/net/tcp{,6}: local address :PORT in hex, state 0A (LISTEN).
  const found = await vm.agent.exec(
    `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '$2 ~ /:${hex}$/ && $4 == "0A"' | head -1`,
    { timeout: 10_000, signal },
  ).catch(() => ({ stdout: "" }));
  return found.stdout.trim() !== "";
}
