import { LaunchError } from "../errors.ts";
import { release, track } from "./exit_cleanup.ts";

const STDERR_LINES = 20;

/** A QEMU child process: its exit status, the tail of its stderr, signals. */
export class QemuProcess {
  #child: Deno.ChildProcess;
  #status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | undefined;
  #stderr: string[] = [];
  #stderrDone: Promise<void>;
  #onKill: () => void;

  private constructor(child: Deno.ChildProcess, onKill: () => void) {
    this.#child = child;
    this.#onKill = onKill;
    this.#stderrDone = this.#collectStderr();
    this.#status = child.status.then(async (status) => {
      release(this);
      await this.#stderrDone;
      this.#exit = status;
      return status;
    });
    track(this);
  }

  /**
   * Start `binary` with `args`. `onKill` runs synchronously if the program
   * exits while QEMU still runs (to remove its files).
   */
  static spawn(binary: string, args: string[], vm: string, onKill: () => void): QemuProcess {
    try {
      const child = new Deno.Command(binary, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      return new QemuProcess(child, onKill);
    } catch (cause) {
      const missing = cause instanceof Deno.errors.NotFound;
      throw new LaunchError(
        missing
          ? `vm '${vm}': ${binary} was not found: install QEMU (apt-get install qemu-system-x86) ` +
            `or name the binary with the qemu option`
          : `vm '${vm}': cannot start ${binary}: ${(cause as Error).message}`,
        { vm, cause },
      );
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
    return [...this.#stderr];
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
    if (this.#exit) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
    try {
      return await Promise.race([this.#status.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after `grace` ms; resolves once QEMU has exited. */
  async terminate(grace: number): Promise<Deno.CommandStatus> {
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    if (!await this.exited(grace)) this.signal("SIGKILL");
    return await this.#status;
  }

  /** For the reaper: kill at once, synchronously. */
  killNow(): void {
    this.signal("SIGKILL");
    this.#onKill();
  }

  async #collectStderr(): Promise<void> {
    const lines = this.#child.stderr.pipeThrough(new TextDecoderStream());
    let partial = "";
    for await (const chunk of lines) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      this.#remember(parts);
    }
    this.#remember([partial]);
  }

  #remember(lines: string[]): void {
    for (const line of lines) if (line.trim() !== "") this.#stderr.push(line.trimEnd());
    if (this.#stderr.length > STDERR_LINES) {
      this.#stderr.splice(0, this.#stderr.length - STDERR_LINES);
    }
  }
}
