/**
 * The QMP layer alone (`@corral/corral/qmp`): transport, framing, the
 * protocol client, the event journal, the schema and the generated types,
 * with the error hierarchy. No YAML, glob or process dependencies.
 *
 * @example
 * ```ts ignore
 * import { QmpClient } from "@corral/corral/qmp";
 * await using client = await QmpClient.connect("unix:/tmp/a.qmp");
 * console.log(await client.execute("query-status"));
 * ```
 *
 * @module
 */

// The protocol's errors; the other layers export theirs (./recipe StepFailure, ./host HostError),
// and the root all of them. The hierarchy is drawn in one place, lib/errors.ts.
export {
  AbortedError,
  ArgumentsError,
  ConnectError,
  ConnectionClosedError,
  CorralError,
  type CorralErrorOptions,
  DeadlineError,
  EventsLostError,
  MonitorBusyError,
  ProtocolError,
  QmpError,
  type QmpErrorOptions,
  TimeoutError,
  type TimeoutErrorOptions,
} from "../errors.ts";
export * from "./address.ts";
export * from "./framing.ts";
export * from "./match.ts";
export * from "./journal.ts";
export * from "./client.ts";
export * from "./schema.ts";
export * from "./replay.ts";
// By name too: `deno doc --lint` wants every type a public signature names exported as such.
export type * from "./qapi.ts";
export { QAPI_QEMU_RELEASES, QAPI_QEMU_VERSIONS } from "./qapi.ts";
export type * as qapi from "./qapi.ts";
