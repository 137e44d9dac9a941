/**
 * Attaching to a QEMU started elsewhere on an SSH host:
 * `ssh://[user@]host[:port]/path/to/qmp.sock` (a `host` that names one of
 * the lab's hosts uses that host's spec: identity, known_hosts, port). The
 * monitor socket (and an agent socket given the same way) is forwarded to
 * a private local directory through the host's control master.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { makePrivateDir } from "../_runtime_dir.ts";
import type { HostSpec } from "./ssh.ts";

/** An `ssh://` address, taken apart. */
export interface SshAddress {
  /** The host spec to connect with. */
  host: HostSpec;
  /** The socket's path on the host. */
  path: string;
}

/** Whether `address` is an `ssh://` one. */
export function isSshAddress(address: string | undefined): address is string {
  return address?.startsWith("ssh://") ?? false;
}

/**
 * Parse `ssh://[user@]host[:port]/path`; a host named in `hosts` brings its spec.
 *
 * @throws {CorralError} Not of that form.
 *
 * @example
 * ```ts
 * import { parseSshAddress } from "./attach.ts";
 * import assert from "node:assert/strict";
 *
 * const { host, path } = parseSshAddress("ssh://root@10.0.0.2:2222/run/vm/qmp.sock", []);
 * assert.deepEqual([host.ssh, host.port, path], ["root@10.0.0.2", 2222, "/run/vm/qmp.sock"]);
 * ```
 */
export function parseSshAddress(address: string, hosts: readonly HostSpec[]): SshAddress {
  const match = /^ssh:\/\/(?:([^@/]+)@)?([^:/]+)(?::(\d+))?(\/.+)$/.exec(address);
  if (!match) {
    throw new CorralError(
      `${JSON.stringify(address)} is not ssh://[user@]host[:port]/path/to/socket`,
    );
  }
  const [, user, name, port, path] = match;
  const known = hosts.find((h) => h.name === name && !user && !port);
  const host: HostSpec = known ?? {
    name: `${user ? `${user}@` : ""}${name}${port ? `:${port}` : ""}`,
    ssh: `${user ? `${user}@` : ""}${name}`,
    port: port ? Number(port) : undefined,
  };
  return { host, path: path! };
}

/** A private local directory for the forwarded sockets of one attached VM. */
export function forwardDir(name: string): Promise<string> {
  return makePrivateDir(`fwd-${name.slice(0, 20)}-`);
}
