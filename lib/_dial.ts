import { ConnectError } from "./errors.ts";
import { deadline, type DeadlineOptions } from "./_async.ts";
import { formatAddress, type QmpAddress } from "./qmp/address.ts";

/** Open a stream connection to `address`, with errors that say what to do. */
export async function dial(address: QmpAddress, vm?: string): Promise<Deno.Conn> {
  try {
    return address.transport === "unix"
      ? await Deno.connect({ transport: "unix", path: address.path })
      : await Deno.connect({ hostname: address.hostname, port: address.port });
  } catch (cause) {
    throw new ConnectError(`${explain(address, cause)}`, {
      cause,
      vm,
      address: formatAddress(address),
    });
  }
}

/**
 * {@linkcode dial} within `ms`: a connection that completes after the
 * deadline is closed, not leaked.
 */
export function dialWithin(
  address: QmpAddress,
  vm: string | undefined,
  ms: number,
  options: DeadlineOptions,
): Promise<Deno.Conn> {
  const dialing = dial(address, vm);
  return deadline(dialing, ms, options).catch((error) => {
    dialing.then((late) => late.close(), () => {});
    throw error;
  });
}

function explain(address: QmpAddress, cause: unknown): string {
  const text = formatAddress(address);
  if (address.transport === "unix") {
    if (cause instanceof Deno.errors.NotFound) {
      return `no socket at ${address.path}: start QEMU with -qmp ${text},server=on,wait=off`;
    }
    if (cause instanceof Deno.errors.ConnectionRefused) {
      return `${address.path} exists but nothing listens on it: the QEMU that made it has exited ` +
        `(a stale socket: relaunch QEMU or remove the file), or is still starting (try again)`;
    }
  } else if (cause instanceof Deno.errors.ConnectionRefused) {
    return `nothing listens on ${text}: is QEMU running with -qmp ${text},server=on,wait=off?`;
  }
  if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
    return `not allowed to connect to ${text}: run Deno with --allow-net ` +
      `(unix sockets also need --allow-read --allow-write)`;
  }
  return `cannot connect to ${text}: ${cause instanceof Error ? cause.message : String(cause)}`;
}
