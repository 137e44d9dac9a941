/**
 * Test helpers: a protocol-only QEMU (`-machine none`) started and always
 * cleaned up, and a scripted fake QMP peer for faults QEMU cannot produce.
 */

export const QEMU_BINARY = Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";

const BACKPORTS = "/opt/corral-qemu-backports/bin/qemu-system-x86_64";

/** The other QEMU build: CI names it; else the one of system and backports that is not under test. */
export function otherQemu(): string | undefined {
  const named = Deno.env.get("CORRAL_QEMU_OTHER");
  if (named) return named;
  if (QEMU_BINARY === BACKPORTS) return "qemu-system-x86_64";
  try {
    return Deno.statSync(BACKPORTS).isFile ? BACKPORTS : undefined;
  } catch {
    return undefined; // Not installed: tools/install_qemu_backports.sh (CI runs it).
  }
}

/** A QEMU binary's version, as numbers. */
export function versionOf(binary: string): number[] {
  const out = new Deno.Command(binary, { args: ["--version"] }).outputSync();
  const match = /version (\d+)\.(\d+)\.(\d+)/.exec(new TextDecoder().decode(out.stdout));
  return match!.slice(1).map(Number);
}

/** A running QEMU started for a test. */
export interface TestQemu extends AsyncDisposable {
  /** The QMP address, `unix:…` or `tcp:…`. */
  address: string;
  /** Where its files live (a private 0700 directory). */
  dir: string;
  /** The QEMU process id. */
  pid: number;
  /** Its exit status, once it exits. */
  status: Promise<Deno.CommandStatus>;
  /** Send a signal to QEMU. */
  signal(signal: Deno.Signal): void;
}

/** Options of {@linkcode spawnQemu}. */
export interface SpawnOptions {
  /** Listen on loopback TCP instead of a unix socket. */
  tcp?: boolean;
  /** `-name`. */
  name?: string;
  /** Extra QEMU arguments. */
  args?: string[];
}

/**
 * Start `qemu-system-x86_64 -machine none` with a QMP monitor and resolve
 * once the monitor listens. Disposing it kills QEMU and removes its files.
 */
export async function spawnQemu(options: SpawnOptions = {}): Promise<TestQemu> {
  const dir = await Deno.makeTempDir({ prefix: "corral-test-" });
  const socket = `${dir}/qmp.sock`;
  const port = options.tcp ? freePort() : 0;
  const qmp = options.tcp ? `tcp:127.0.0.1:${port}` : `unix:${socket}`;
  const child = new Deno.Command(QEMU_BINARY, {
    args: [
      ...["-machine", "none", "-nodefaults", "-display", "none"],
      ...["-qmp", `${qmp},server=on,wait=off`],
      ...(options.name ? ["-name", options.name] : []),
      ...(options.args ?? []),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const qemu: TestQemu = {
    address: qmp,
    dir,
    pid: child.pid,
    status,
    signal: (signal) => {
      if (!exited) child.kill(signal);
    },
    async [Symbol.asyncDispose]() {
      if (!exited) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      }
      await status;
      await Deno.remove(dir, { recursive: true });
    },
  };
  try {
    await untilListening(options.tcp ? { port } : { socket }, () => exited);
  } catch (error) {
    await qemu[Symbol.asyncDispose]();
    throw error;
  }
  return qemu;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Poll until the monitor accepts a connection, with a deadline. */
export async function untilListening(
  where: { socket?: string; port?: number },
  exited: () => boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error("QEMU exited while starting");
    // The socket file appears before QEMU listens: probe until a connection is accepted.
    if (where.socket && await accepts({ transport: "unix", path: where.socket })) return;
    if (where.port && await accepts({ hostname: "127.0.0.1", port: where.port })) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error("QEMU's QMP monitor did not appear within 10 s");
}

/**
 * Whether the monitor serves a client: the probe reads the greeting before
 * it leaves. A probe that closed before QEMU had accepted it could make QEMU
 * 10 accept the next client while still busy with it, and close that one.
 */
async function accepts(address: Deno.ConnectOptions | Deno.UnixConnectOptions): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  // A greeting that does not come in 2 s is no greeting: the read fails and the probe is retried.
  const timer = setTimeout(() => conn?.close(), 2000);
  try {
    conn = await Deno.connect(address as Deno.ConnectOptions);
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) return false;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timer already.
    }
  }
}

/** One step of a fake peer's script. */
export type FakeStep =
  | { send: string }
  | { sendBytes: Uint8Array }
  | { read: true }
  | { close: true }
  | { hang: true };

/** A scripted QMP peer on a unix socket, for faults QEMU cannot make on demand. */
export interface FakePeer extends AsyncDisposable {
  address: string;
  /** What the peer received, as text. */
  received: string[];
}

/** The greeting QEMU 7.2 sends. */
export const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}\r\n';

/**
 * Serve one connection with `script`: send bytes, read a chunk, close, or
 * hang (keep the connection open and silent until disposed).
 */
export async function fakePeer(script: FakeStep[]): Promise<FakePeer> {
  const dir = await Deno.makeTempDir({ prefix: "corral-fake-" });
  const path = `${dir}/qmp.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const received: string[] = [];
  let conn: Deno.Conn | undefined;
  const served = (async () => {
    conn = await listener.accept();
    const buffer = new Uint8Array(65536);
    for (const step of script) {
      if ("send" in step) await conn.write(new TextEncoder().encode(step.send));
      else if ("sendBytes" in step) await conn.write(step.sendBytes);
      else if ("read" in step) {
        const n = await conn.read(buffer);
        if (n === null) return;
        received.push(new TextDecoder().decode(buffer.subarray(0, n)));
      } else if ("close" in step) return;
      else if ("hang" in step) {
        // Read until the client goes away.
        while (await conn.read(buffer) !== null) { /* discard */ }
        return;
      }
    }
  })().catch(() => {}).finally(() => {
    try {
      conn?.close();
    } catch { /* already closed */ }
  });
  return {
    address: `unix:${path}`,
    received,
    async [Symbol.asyncDispose]() {
      listener.close();
      await served;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
