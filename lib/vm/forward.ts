/**
 * Ports of a guest reached from this machine: a host-only user-mode NIC
 * (`-netdev user,restrict=on`: the guest can reach nothing through it, and
 * nothing but these forwards reaches the guest) and QEMU's `hostfwd_add`,
 * bound to loopback only.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { delay } from "../_async.ts";
import type { ExecuteOptions } from "../qmp/client.ts";
import type { ActionOptions } from "./handle.ts";
import { HOSTLINK, HOSTLINK_ADDRESS } from "./spec.ts";

/** What {@linkcode forwardPort} needs of a VM: its name and its human monitor. */
export interface HmpVm {
  /** The VM's name, for errors. */
  readonly name: string;
  /** Run a human-monitor command; its output. */
  hmp(commandLine: string, options?: ExecuteOptions): Promise<string>;
}

/**
 * Forward a free loopback port of this machine to `guestPort` of the VM;
 * resolves to the host port.
 *
 * @example
 * ```ts ignore
 * const port = await forwardPort(vm, 80);
 * await fetch(`http://127.0.0.1:${port}/`);
 * ```
 *
 * @throws {CorralError} The VM has no host link (`hostlink: true`; builtin:debian has one).
 */
export async function forwardPort(
  vm: HmpVm,
  guestPort: number,
  options: ActionOptions = {},
): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const guest = HOSTLINK_ADDRESS.split("/")[0];
  const reply = await vm.hmp(
    `hostfwd_add ${HOSTLINK} tcp:127.0.0.1:${port}-${guest}:${guestPort}`,
    { timeout: options.timeout, signal: options.signal },
  );
  if (reply.trim()) {
    throw new CorralError(
      `cannot forward port ${guestPort}: QEMU says ${JSON.stringify(reply.trim())}; ` +
        `does it have a host link (hostlink: true, which builtin:debian has)?`,
      { vm: vm.name },
    );
  }
  return port;
}

/**
 * Whether a connection to `port` on loopback (a forward) reaches a listening
 * guest: the guest's data, or a connection it does not refuse within
 * `settleMs`, say yes; a refusal (QEMU closes the connection when the guest
 * resets it) says no.
 */
export async function portAnswers(port: number, settleMs = 1000): Promise<boolean> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return false;
  }
  const settled = new AbortController();
  try {
    const read = conn.read(new Uint8Array(1)).catch(() => null);
    const quiet = delay(settleMs, { signal: settled.signal }).then(
      () => "open" as const,
      () => null,
    );
    const first = await Promise.race([read, quiet]);
    return first !== null;
  } finally {
    settled.abort();
    conn.close();
  }
}
