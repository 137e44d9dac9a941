/**
 * Replay: serve a recorded `qmp.log` (a report's `vms/NAME/qmp.log`) back
 * as a scripted QMP peer, so that a bug seen in a user's report becomes a
 * test without their QEMU. The peer sends what QEMU sent, in the recorded
 * order, waiting for each request where the client sent one; replies carry
 * the client's own ids.
 *
 * @module
 */

import { CorralError } from "../errors.ts";

/** One recorded message. */
export interface RecordedMessage {
  /** `->` sent by the client, `<-` sent by QEMU. */
  direction: "->" | "<-";
  /** The message. */
  message: Record<string, unknown>;
  /** Where it was in the log (1-based line). */
  line: number;
}

/** A `qmp.log` cannot be replayed. */
export class ReplayError extends CorralError {}

/**
 * Read a `qmp.log`: lines `TIME [+MSms] -> JSON` and `TIME [+MSms] <- JSON`;
 * step markers (`-- step …`) are skipped.
 *
 * @throws {ReplayError} A message line that is not JSON, naming its line.
 *
 * @example
 * ```ts
 * import { parseQmpLog } from "./replay.ts";
 * import assert from "node:assert/strict";
 *
 * const log = '2026-01-01T00:00:00.000Z +1.0ms <- {"QMP": {}}\n' +
 *   "2026-01-01T00:00:00.001Z +1.5ms -- step 'x' (pause)\n";
 * assert.deepEqual(parseQmpLog(log), [{ direction: "<-", message: { QMP: {} }, line: 1 }]);
 * ```
 */
export function parseQmpLog(text: string): RecordedMessage[] {
  const messages: RecordedMessage[] = [];
  // A log copied through Windows has CRLF line ends: read it the same.
  text.split(/\r?\n/).forEach((raw, index) => {
    const match = /^\S+ (?:\+[\d.]+ms )?(->|<-) (.*)$/.exec(raw);
    if (!match) return;
    let message: unknown;
    try {
      message = JSON.parse(match[2]!);
    } catch (cause) {
      throw new ReplayError(`qmp.log line ${index + 1} is not a JSON message`, { cause });
    }
    if (!message || typeof message !== "object" || Array.isArray(message)) {
      throw new ReplayError(
        `qmp.log line ${index + 1} is not a QMP message (a JSON object): ${match[2]!.slice(0, 80)}`,
      );
    }
    messages.push({
      direction: match[1] as "->" | "<-",
      message: message as Record<string, unknown>,
      line: index + 1,
    });
  });
  return messages;
}

/** A replay peer listening on a unix socket. */
export interface ReplayPeer extends AsyncDisposable {
  /** `unix:PATH`, for `Vm.connect`. */
  address: string;
  /** Resolves when the client has gone and the script ended (or was abandoned). */
  done: Promise<ReplayOutcome>;
}

/** How a replay went. */
export interface ReplayOutcome {
  /** Recorded requests the client sent, in order. */
  matched: number;
  /** Requests that differed from the recording (command name), with their log line. */
  mismatches: string[];
  /** Whether the client reached the end of the recording. */
  complete: boolean;
}

/**
 * Serve `recording` to one client on a unix socket at `path`, which must
 * not exist (it is removed when the peer is disposed).
 *
 * @example Replay a recorded session
 * ```ts ignore
 * import { replay, Vm } from "@corral/corral";
 * await using peer = await replay(await Deno.readTextFile("report/vms/db1/qmp.log"), "/tmp/r.sock");
 * await using vm = await Vm.connect(peer.address);
 * await vm.pause(); // answered as QEMU answered then
 * ```
 */
export async function replay(recording: string, path: string): Promise<ReplayPeer> {
  const script = parseQmpLog(recording);
  if (script[0]?.direction !== "<-" || !("QMP" in script[0].message)) {
    throw new ReplayError("the recording does not start with QEMU's greeting");
  }
  // Never take over what is there: it may be a running QEMU's monitor.
  if (await Deno.lstat(path).then(() => true, () => false)) {
    throw new ReplayError(
      `${path} exists: corral replay does not remove what it did not create; ` +
        "give --socket a path that does not exist, or leave it out",
    );
  }
  const listener = Deno.listen({ transport: "unix", path });
  let conn: Deno.Conn | undefined;
  const done = (async () => {
    try {
      conn = await listener.accept();
      return await serve(conn, script);
    } finally {
      listener.close();
      try {
        conn?.close();
      } catch {
        // The client closed it first.
      }
    }
  })();
  return {
    address: `unix:${path}`,
    done,
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
      await done.catch(() => {});
      await Deno.remove(path).catch(() => {});
    },
  };
}

async function serve(conn: Deno.Conn, script: RecordedMessage[]): Promise<ReplayOutcome> {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const splitter = new ObjectSplitter();
  const buffer = new Uint8Array(64 * 1024);
  const queued: string[] = [];
  const ids = new Map<unknown, unknown>();
  const outcome: ReplayOutcome = { matched: 0, mismatches: [], complete: false };
  const send = (message: Record<string, unknown>) =>
    conn.write(encoder.encode(JSON.stringify(message) + "\r\n"));
  const nextRequest = async (): Promise<Record<string, unknown> | undefined> => {
    while (queued.length === 0) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return undefined;
      queued.push(...splitter.push(decoder.decode(buffer.subarray(0, n), { stream: true })));
    }
    const text = queued.shift()!;
    try {
      return JSON.parse(text);
    } catch {
      // As QEMU does: an error without an id, and the connection goes on.
      await send({ error: { class: "GenericError", desc: "JSON parse error" } });
      outcome.mismatches.push(`the client sent something that is not JSON: ${text.slice(0, 80)}`);
      return await nextRequest();
    }
  };
  for (const { direction, message, line } of script) {
    if (direction === "<-") {
      const reply = "id" in message && ids.has(message.id)
        ? { ...message, id: ids.get(message.id) }
        : message;
      await send(reply);
      continue;
    }
    const request = await nextRequest();
    if (!request) return outcome;
    ids.set(message.id, request.id);
    const wanted = message.execute ?? message["exec-oob"];
    const got = request.execute ?? request["exec-oob"];
    if (wanted !== got) {
      outcome.mismatches.push(`line ${line}: recorded ${String(wanted)}, got ${String(got)}`);
    } else outcome.matched++;
  }
  outcome.complete = true;
  // Past the recording: tell the client so, until it goes.
  for (let request = await nextRequest(); request; request = await nextRequest()) {
    await send({
      error: { class: "GenericError", desc: "replay: the recording ends here" },
      id: request.id,
    });
  }
  return outcome;
}

/**
 * Requests as QEMU reads them: JSON objects one after another, with or
 * without line ends between them (corral sends none).
 */
class ObjectSplitter {
  #text = "";
  #depth = 0;
  #inString = false;
  #escaped = false;
  #start = 0;

  push(chunk: string): string[] {
    const objects: string[] = [];
    const from = this.#text.length;
    this.#text += chunk;
    for (let i = from; i < this.#text.length; i++) {
      const c = this.#text[i];
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (c === "\\") this.#escaped = true;
        else if (c === '"') this.#inString = false;
      } else if (c === '"') this.#inString = true;
      else if (c === "{" || c === "[") {
        if (this.#depth++ === 0) this.#start = i;
      } else if ((c === "}" || c === "]") && --this.#depth === 0) {
        objects.push(this.#text.slice(this.#start, i + 1));
      }
    }
    if (this.#depth === 0) this.#text = "";
    else {
      this.#text = this.#text.slice(this.#start);
      this.#start = 0;
    }
    return objects;
  }
}
