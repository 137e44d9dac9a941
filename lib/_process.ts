import { LaunchError } from "./errors.ts";
import { settlesWithin } from "./_async.ts";
import { release, track } from "./vm/exit_cleanup.ts";

const STDERR_LINES = 20;

/**
 * The last lines a process wrote to its stderr (blank ones left out), read
 * as they come, here or through an SSH channel.
 */
export class StderrTail {
  #lines: string[] = [];

  /**
   * Read `stream` to its end (or until `signal` aborts), line by line;
   * `take` may claim a line for itself (return true) so it is not kept.
   */
  async read(
    stream: ReadableStream<Uint8Array>,
    options: { signal?: AbortSignal; take?: (line: string) => boolean } = {},
  ): Promise<void> {
    let partial = "";
    try {
      for await (
        const chunk of stream.pipeThrough(new TextDecoderStream(), { signal: options.signal })
      ) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        for (const line of parts) this.#add(line, options.take);
      }
    } catch {
      // Detached, or the channel went away: what came is kept.
    }
    this.#add(partial, options.take);
  }

  /** The lines kept, oldest first. */
  get lines(): string[] {
    return [...this.#lines];
  }

  #add(line: string, take: ((line: string) => boolean) | undefined): void {
    if (take?.(line) || line.trim() === "") return;
    this.#lines.push(line.trimEnd());
    if (this.#lines.length > STDERR_LINES) this.#lines.shift();
  }
}

/** What corral needs of a running QEMU, here or on an SSH host. */
export interface QemuChild {
  /** Its pid (on the host it runs on). */
  readonly pid: number;
  /** The exit status once it has exited. */
  readonly exit: Deno.CommandStatus | undefined;
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** The last lines it wrote to stderr. */
  readonly stderr: string[];
  /** Send a signal, unless it has exited. */
  signal(signal: Deno.Signal): void;
  /** Wait up to `ms` for it to exit; resolves whether it did. */
  exited(ms: number): Promise<boolean>;
  /** SIGTERM, then SIGKILL after `grace` ms. */
  terminate(grace: number): Promise<Deno.CommandStatus>;
  /** Let it outlive this program. */
  detach(): void;
}

/** A QEMU child process: its exit status, the tail of its stderr, signals. */
export class QemuProcess implements QemuChild {
  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | undefined;
  #stderr = new StderrTail();
  #stderrDone: Promise<void>;
  #onKill: () => void;
  #stopReading = new AbortController();

  private constructor(child: Deno.ChildProcess, onKill: () => void) {
    this.#child = child;
    this.#onKill = onKill;
    this.#stderrDone = this.#stderr.read(child.stderr, { signal: this.#stopReading.signal });
    this.#status = child.status.then(async (status) => {
      release(this);
      await this.#stderrDone;
      this.#exit = status;
      return status;
    });
    track(this);
  }

  /**
   * Start `binary` with `args` in a session of its own, so that a
   * terminal's Ctrl-C reaches corral alone. Unless `outliveParent`, the
   * kernel kills QEMU when this program dies, even by SIGKILL (a parent-death
   * signal, set by util-linux `setpriv` before it execs QEMU: no extra
   * process per VM). `onKill` runs synchronously if the program exits while
   * QEMU still runs (to remove its files).
   */
  static spawn(
    binary: string,
    args: string[],
    vm: string,
    onKill: () => void,
    options: {
      outliveParent?: boolean | undefined;
      netns?: string | undefined;
      /** Where it starts (relative paths on its command line are from there). */
      cwd?: string | undefined;
    } = {},
  ): QemuProcess {
    const path = findExecutable(binary);
    if (path === undefined) {
      throw new LaunchError(
        `${binary} was not found: install QEMU (apt-get install qemu-system-x86) ` +
          `or name the binary with the qemu option`,
        { vm },
      );
    }
    const reaper = options.outliveParent ? undefined : setpriv();
    // Each wrapper execs the next (same pid): ip netns exec → setpriv → QEMU.
    const chain = [
      ...(options.netns ? ["ip", "netns", "exec", options.netns] : []),
      ...(reaper ? [reaper, "--pdeathsig", "KILL", "--"] : []),
      path,
      ...args,
    ];
    try {
      const child = new Deno.Command(chain[0]!, {
        args: chain.slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        detached: true,
        ...(options.cwd ? { cwd: options.cwd } : {}),
      }).spawn();
      return new QemuProcess(child, onKill);
    } catch (cause) {
      throw new LaunchError(`cannot start ${binary}: ${(cause as Error).message}`, {
        vm,
        cause,
      });
    }
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The exit status once QEMU has exited and its stderr is read, else `undefined`. */
  get exit(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /** Resolves with the exit status (after stderr has been read to its end). */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** The last lines QEMU wrote to stderr. */
  get stderr(): string[] {
    return this.#stderr.lines;
  }

  /** Send a signal, unless QEMU has already exited. */
  signal(signal: Deno.Signal): void {
    if (this.#exit) return;
    try {
      this.#child.kill(signal);
    } catch {
      // It exited between the check and the kill.
    }
  }

  /** Wait up to `ms` for QEMU to exit; resolves whether it did. */
  async exited(ms: number): Promise<boolean> {
    return this.#exit !== undefined || await settlesWithin(this.#status, ms);
  }

  /** SIGTERM, then SIGKILL after `grace` ms; resolves once QEMU has exited. */
  async terminate(grace: number): Promise<Deno.CommandStatus> {
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    if (!await this.exited(grace)) this.signal("SIGKILL");
    return await this.#status;
  }

  /** Let QEMU outlive this program: no longer killed at exit, no longer keeping the program alive. */
  detach(): void {
    release(this);
    this.#stopReading.abort();
    this.#child.unref();
  }

  /** For the reaper: kill at once, synchronously. */
  killNow(): void {
    this.signal("SIGKILL");
    this.#onKill();
  }
}

/**
 * Start a helper (an ssh master, libvirt's QMP proxy) that dies with this
 * program, even by SIGKILL (the same parent-death signal QEMU gets). Its
 * stdin and stdout are closed; its stderr is piped for its own words.
 */
export function spawnTied(program: string, args: string[]): Deno.ChildProcess {
  const reaper = setpriv();
  const chain = [...(reaper ? [reaper, "--pdeathsig", "KILL", "--"] : []), program, ...args];
  return new Deno.Command(chain[0]!, {
    args: chain.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

let setprivPath: string | undefined | null = null;

/** util-linux `setpriv`, looked up once; without it QEMU does not die with a SIGKILLed parent. */
function setpriv(): string | undefined {
  if (setprivPath === null) setprivPath = findExecutable("setpriv");
  return setprivPath;
}

/** The path of `name` (searched in `PATH` unless it holds a `/`), if it is an executable file. */
export function findExecutable(name: string): string | undefined {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").map((dir) => `${dir || "."}/${name}`);
  for (const candidate of candidates) {
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch {
      // Not there: try the next directory.
    }
  }
  return undefined;
}
