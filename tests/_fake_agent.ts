/**
 * A scripted guest agent on a unix socket, for what a real qemu-ga does not
 * do on demand: a freeze that outlasts a deadline, a flood, an endless
 * file. Like qemu-ga it runs one command at a time and answers
 * `guest-sync-delimited` with 0xFF before the reply.
 */

/** How the fake answers one command: a reply, or nothing yet (`hold`). */
export type FakeReply =
  | { return: unknown }
  | { error: { class: string; desc: string } }
  | { hold: Promise<FakeReply> }
  | { raw: Uint8Array };

/** A fake agent. */
export interface FakeAgent extends AsyncDisposable {
  /** `unix:/path` of its socket. */
  address: string;
  /** The commands it received, in order (syncs left out). */
  commands: string[];
  /** Resolves when the fake has received `command`. */
  received(command: string): Promise<void>;
  /** Write raw bytes to the connected client, now. */
  send(bytes: Uint8Array): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Serve connections one after another; `answer` decides each reply (the
 * default for a command it does not know is `{ return: {} }`).
 */
export async function fakeAgent(
  answer: (command: string, args: Record<string, unknown> | undefined) => FakeReply | undefined,
): Promise<FakeAgent> {
  const dir = await Deno.makeTempDir({ prefix: "corral-fake-agent-" });
  const path = `${dir}/qga.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const commands: string[] = [];
  const waiters: { command: string; resolve: () => void }[] = [];
  const conns = new Set<Deno.Conn>();
  let current: Deno.Conn | undefined;
  const note = (command: string) => {
    commands.push(command);
    for (const waiter of waiters.filter((w) => w.command === command)) waiter.resolve();
  };
  const write = async (conn: Deno.Conn, bytes: Uint8Array) => {
    for (let n = 0; n < bytes.length;) n += await conn.write(bytes.subarray(n));
  };
  const reply = async (conn: Deno.Conn, message: FakeReply): Promise<void> => {
    if ("hold" in message) return await reply(conn, await message.hold);
    if ("raw" in message) return await write(conn, message.raw);
    await write(conn, encoder.encode(JSON.stringify(message) + "\n"));
  };
  const serve = async (conn: Deno.Conn) => {
    let pending = "";
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      // 0xFF only resets the parser (as qemu-ga's does); the text is ASCII JSON.
      pending += new TextDecoder().decode(buffer.subarray(0, n).filter((b) => b !== 0xff));
      for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
        const line = pending.slice(0, end).trim();
        pending = pending.slice(end + 1);
        if (!line) continue;
        const { execute, arguments: args } = JSON.parse(line);
        if (execute === "guest-sync-delimited") {
          await write(conn, new Uint8Array([0xff]));
          await reply(conn, { return: args.id });
          continue;
        }
        note(execute);
        await reply(conn, answer(execute, args) ?? { return: {} });
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      current = conn;
      await serve(conn).catch(() => {});
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  })().catch(() => {});
  return {
    address: `unix:${path}`,
    commands,
    received(command) {
      if (commands.includes(command)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ command, resolve }));
    },
    async send(bytes) {
      if (current) await write(current, bytes);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await accepting;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
