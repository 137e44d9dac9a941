import { parseDuration } from "../../recipe/duration.ts";
import { defineCommand, text } from "../command.ts";
import { runningVm } from "./exec.ts";

/** Ctrl-]: leaves the console, as telnet and virsh console have it. */
const ESCAPE = 0x1d;

/** `corral console VM`: the serial console of a kept lab VM, in this terminal or from a script. */
export default defineCommand({
  name: "console",
  synopsis: "VM [--until TEXT]",
  usage: `usage: corral console VM [options]

The serial console of a VM that corral launched and that still runs (left
with --keep): what it prints shows here, what you type goes to it. On a
terminal, Ctrl-] leaves (the VM runs on). From a pipe, the input is sent and
the console left when the input ends — or, with --until, once the console
printed TEXT (exit 0) or --timeout passed (exit 1).

options:
  --until TEXT       stay until the console prints TEXT
  --timeout DUR      how long --until waits (default 60s)
  -h, --help         this help`,
  flags: { until: { type: "string" }, timeout: { type: "string" } },
  async run({ values, positionals }) {
    const [name] = positionals;
    const until = text(values, "until");
    const given = text(values, "timeout");
    const timeout = given === undefined ? 60_000 : parseDuration(given);
    if (!name || timeout === undefined) {
      console.error("corral console: give a VM (and --timeout as a duration like 30s)");
      return 2;
    }
    const entry = await runningVm(name);
    if (typeof entry === "string" || !entry.console) {
      console.error(
        `corral console: ${typeof entry === "string" ? entry : `${name} has no console`}`,
      );
      return 1;
    }
    const conn = await Deno.connect({ transport: "unix", path: entry.console });
    const terminal = Deno.stdin.isTerminal();
    if (terminal) {
      Deno.stdin.setRaw(true);
      console.error(`corral console: ${name} (Ctrl-] leaves; the VM runs on)\r`);
    }
    try {
      const input = send(conn, terminal);
      // Ctrl-] always leaves; the end of a script's input leaves unless it waits for text.
      const left = until === undefined || terminal ? input : never();
      const timer = expire(until === undefined ? undefined : timeout);
      const end = await Promise.race([left, show(conn, until), timer.done]);
      timer.cancel();
      if (end === "timeout") {
        console.error(
          `\ncorral console: ${name} printed no ${JSON.stringify(until)} in ${given ?? "60s"}`,
        );
      }
      if (end === "closed") console.error(`\ncorral console: ${name}'s QEMU closed its console`);
      return end === "timeout" || (end === "closed" && until !== undefined) ? 1 : 0;
    } finally {
      if (terminal) Deno.stdin.setRaw(false);
      conn.close();
    }
  },
});

/** Copy standard input to the console until it ends (or Ctrl-] on a terminal). */
async function send(conn: Deno.UnixConn, terminal: boolean): Promise<"left"> {
  for await (const chunk of Deno.stdin.readable) {
    const stop = terminal ? chunk.indexOf(ESCAPE) : -1;
    await conn.write(stop < 0 ? chunk : chunk.subarray(0, stop));
    if (stop >= 0) break;
  }
  return "left";
}

/** Copy the console to standard output; resolves when `until` was printed, or the VM went. */
async function show(conn: Deno.UnixConn, until: string | undefined): Promise<"seen" | "closed"> {
  const decoder = new TextDecoder();
  let tail = "";
  const buffer = new Uint8Array(4096);
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    await Deno.stdout.write(buffer.subarray(0, n));
    if (until === undefined) continue;
    tail = (tail + decoder.decode(buffer.subarray(0, n), { stream: true })).slice(
      -4 * until.length - 4096,
    );
    if (tail.includes(until)) return "seen";
  }
  return "closed";
}

function never(): Promise<never> {
  return new Promise(() => {});
}

/** A deadline (none: never). */
function expire(ms: number | undefined): { done: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const done = ms === undefined
    ? never()
    : new Promise<"timeout">((resolve) => id = setTimeout(() => resolve("timeout"), ms));
  return { done, cancel: () => clearTimeout(id) };
}
