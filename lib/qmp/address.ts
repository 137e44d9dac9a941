/**
 * QMP addresses: `unix:/path/to.sock` or `tcp:host:port`, the same forms
 * QEMU's own `-qmp` option takes.
 *
 * @module
 */

import { ConnectError } from "../errors.ts";

/** A parsed QMP address. */
export type QmpAddress =
  | { transport: "unix"; path: string }
  | { transport: "tcp"; hostname: string; port: number };

/**
 * Parse `unix:/path` or `tcp:host:port` (IPv6 hosts in brackets:
 * `tcp:[::1]:4444`). A bare path is read as a unix socket.
 *
 * @param address The address as text.
 * @returns The parsed address.
 * @throws {ConnectError} When the text is not an address.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseAddress("tcp:127.0.0.1:4444"), {
 *   transport: "tcp",
 *   hostname: "127.0.0.1",
 *   port: 4444,
 * });
 * assert.deepEqual(parseAddress("unix:/tmp/a.qmp"), { transport: "unix", path: "/tmp/a.qmp" });
 * ```
 */
export function parseAddress(address: string): QmpAddress {
  if (address.startsWith("unix:")) return unixAddress(address, address.slice(5));
  if (address.startsWith("/") || address.startsWith(".")) return unixAddress(address, address);
  if (address.startsWith("tcp:")) return tcpAddress(address, address.slice(4));
  throw new ConnectError(
    `'${address}' is not a QMP address: write unix:/path/to/socket or tcp:host:port`,
    { address },
  );
}

/** Format a parsed address back to its text form. */
export function formatAddress(address: QmpAddress): string {
  if (address.transport === "unix") return `unix:${address.path}`;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `tcp:${host}:${address.port}`;
}

function unixAddress(address: string, path: string): QmpAddress {
  if (path === "") {
    throw new ConnectError(`'${address}' names no socket path`, { address });
  }
  return { transport: "unix", path };
}

function tcpAddress(address: string, rest: string): QmpAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(rest);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new ConnectError(
      `'${address}' is not a TCP address: write tcp:HOST:PORT with a port from 1 to 65535`,
      { address },
    );
  }
  return { transport: "tcp", hostname: (match[1] ?? match[2])!, port };
}
