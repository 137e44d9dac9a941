import { CorralError } from "../../errors.ts";
import { replay } from "../../qmp/replay.ts";
import { defineCommand, text } from "../command.ts";

const USAGE = `usage: corral replay QMP_LOG [options]

Serve a recorded qmp.log (a report's vms/NAME/qmp.log) as a QMP peer on a
unix socket, for one client: it sends what QEMU sent, in the recorded
order, and answers each request with the recorded reply (carrying the
client's id). Turns a bug in a user's report into a test without their QEMU.

options:
  --socket PATH      where to listen; it must not exist (default: replay.sock in a new private directory)
  -h, --help         this help`;

/** `corral replay QMP_LOG`: a recorded session served back as a QMP peer. */
export default defineCommand({
  name: "replay",
  synopsis: "QMP_LOG",
  usage: USAGE,
  flags: { socket: { type: "string" } },
  async run({ values, positionals }) {
    if (positionals.length !== 1) {
      console.error(`corral replay: expected one qmp.log, got ${positionals.length}\n\n${USAGE}`);
      return 2;
    }
    const socket = text(values, "socket");
    const dir = socket ? undefined : await Deno.makeTempDir({ prefix: "corral-replay-" });
    try {
      return await serve(positionals[0]!, socket ?? `${dir}/replay.sock`);
    } catch (error) {
      if (!(error instanceof CorralError) && !(error instanceof Deno.errors.NotFound)) throw error;
      console.error(`corral replay: ${(error as Error).message}`);
      return 2;
    } finally {
      if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** Serve `log` at `path` until the client leaves, or Ctrl-C / SIGTERM (130). */
async function serve(log: string, path: string): Promise<number> {
  let interrupted = false;
  await using peer = await replay(await Deno.readTextFile(log), path);
  // Ctrl-C or SIGTERM end the replay like a client leaving: the socket and directory go.
  const stop = () => {
    interrupted = true;
    peer[Symbol.asyncDispose]();
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  console.log(`serving ${log} on ${peer.address} (one client; Ctrl-C to stop)`);
  const outcome = await peer.done.catch((error) => {
    if (!interrupted) throw error;
  }).finally(() => {
    for (const signal of signals) Deno.removeSignalListener(signal, stop);
  });
  if (!outcome) return 130;
  console.log(
    `${outcome.matched} request(s) as recorded, ${outcome.mismatches.length} different` +
      `${outcome.complete ? ", the recording played to its end" : ""}`,
  );
  for (const mismatch of outcome.mismatches) console.log(`  ${mismatch}`);
  return outcome.mismatches.length === 0 ? 0 : 1;
}
