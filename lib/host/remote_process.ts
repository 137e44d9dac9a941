import { HostError, LaunchError } from "../errors.ts";
import { settlesWithin } from "../_async.ts";
import { type QemuChild, StderrTail } from "../_process.ts";
import type { SshHost } from "./ssh.ts";
import { shellWord } from "../_text.ts";

/**
 * A QEMU started on an SSH host through its control master. Its pid is the
 * host's; it runs under a parent-death signal there, so it dies when the
 * connection does (corral died, or the host dropped). Signals go through
 * `kill` on the host.
 */
export class RemoteQemuProcess implements QemuChild {
  #host: SshHost;
  #child: Deno.ChildProcess;
  #pid = 0;
  #stderr = new StderrTail();
  #status: Promise<Deno.CommandStatus>;
  #exit: Deno.CommandStatus | undefined;
  #started = Promise.withResolvers<number>();

  private constructor(host: SshHost, child: Deno.ChildProcess) {
    this.#host = host;
    this.#child = child;
    const reading = this.#read();
    this.#status = child.status.then(async (status) => {
      await reading;
      this.#exit = status;
      this.#started.reject(new Error("exited"));
      return status;
    });
    this.#started.promise.catch(() => {});
  }

  /**
   * Start `binary args…` on `host` and resolve once the host said its pid.
   *
   * @throws {LaunchError} It did not start.
   */
  static async spawn(
    host: SshHost,
    binary: string,
    args: string[],
    vm: string,
  ): Promise<RemoteQemuProcess> {
    const line = [binary, ...args].map(shellWord).join(" ");
    // The pid first (exec keeps it), then QEMU under a parent-death signal where setpriv exists.
    const command = `echo corral-pid $$ >&2; ` +
      `if command -v setpriv >/dev/null; then exec setpriv --pdeathsig KILL -- ${line}; ` +
      `else exec ${line}; fi`;
    for (let attempt = 1;; attempt++) {
      const process = new RemoteQemuProcess(host, await host.spawn(command));
      try {
        process.#pid = await process.#started.promise;
        return process;
      } catch {
        await process.status;
      }
      // sshd may still count a session that just ended: a refusal is worth two more tries.
      if (!process.stderr.some((line) => line.includes("Session open refused"))) {
        throw new LaunchError(`QEMU did not start on host '${host.name}'`, {
          vm,
          exitCode: process.exit?.code,
          stderr: process.stderr,
        });
      }
      if (attempt === 3) throw host.refused();
    }
  }

  /** The host the process runs on. */
  get host(): SshHost {
    return this.#host;
  }

  /** QEMU's pid on the host. */
  get pid(): number {
    return this.#pid;
  }

  /** The exit status once QEMU (or the channel) ended. */
  get exit(): Deno.CommandStatus | undefined {
    return this.#exit;
  }

  /** Resolves with the exit status. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#status;
  }

  /** The last lines QEMU wrote to stderr. */
  get stderr(): string[] {
    return this.#stderr.lines;
  }

  /** Send a signal on the host, unless QEMU has exited. */
  signal(signal: Deno.Signal): void {
    if (this.#exit || !this.#pid) return;
    this.#host.run(`kill -${signal.replace(/^SIG/, "")} ${this.#pid}`).catch(() => {});
  }

  /** Wait up to `ms` for QEMU to exit. */
  async exited(ms: number): Promise<boolean> {
    return this.#exit !== undefined || await settlesWithin(this.#status, ms);
  }

  /** SIGTERM, then SIGKILL after `grace` ms. */
  async terminate(grace: number): Promise<Deno.CommandStatus> {
    this.signal("SIGTERM");
    if (!await this.exited(grace)) {
      this.signal("SIGKILL");
      // A host that dropped cannot be asked: the channel ends with the connection.
      if (!await this.exited(5000)) this.#child.kill("SIGKILL");
    }
    return await this.#status;
  }

  /** Remote QEMUs die with their connection: they cannot outlive corral. */
  detach(): void {
    throw new HostError(
      "VMs on SSH hosts cannot outlive corral (--keep): they die with its connection",
      {
        host: this.#host.name,
      },
    );
  }

  async #read(): Promise<void> {
    await this.#stderr.read(this.#child.stderr, {
      take: (line) => {
        const pid = /^corral-pid (\d+)$/.exec(line.trim());
        if (!pid || this.#pid) return false;
        this.#started.resolve(Number(pid[1]));
        return true;
      },
    });
    await this.#child.stdout.cancel().catch(() => {});
  }
}
