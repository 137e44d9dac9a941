import { HostError } from "../errors.ts";
import { after, delay, settlesWithin } from "../_async.ts";
import { findExecutable, spawnTied } from "../_process.ts";
import type { SshHostSpec } from "./spec.ts";

/**
 * One OpenSSH control master: a connection that dies with corral (a
 * parent-death signal) and serves commands and forwards through its
 * control socket. sshd allows `MaxSessions` (10 by default) sessions on
 * one connection, so a host opens more masters as its QEMUs need them.
 */
export class Master {
  /** Its control socket. */
  readonly control: string;
  /** Sessions open through it now (QEMUs and commands). */
  sessions = 0;
  #spec: SshHostSpec;
  #child: Deno.ChildProcess;
  #stderr: Promise<string>;
  #exit: Deno.CommandStatus | undefined;
  #status: Promise<Deno.CommandStatus>;

  private constructor(spec: SshHostSpec, control: string, child: Deno.ChildProcess) {
    this.#spec = spec;
    this.control = control;
    this.#child = child;
    this.#stderr = new Response(child.stderr).text().catch(() => "");
    this.#status = child.status.then((status) => this.#exit = status);
  }

  /**
   * Open a master on `control` and wait until it serves.
   *
   * @throws {HostError} It could not: what to check, in ssh's own words too.
   */
  static async open(spec: SshHostSpec, control: string, timeout: number): Promise<Master> {
    const ssh = findExecutable("ssh");
    if (!ssh) {
      throw new HostError("ssh was not found: apt-get install openssh-client", { host: spec.name });
    }
    const child = spawnTied(ssh, ["-M", "-N", ...sshOptions(spec, control), spec.ssh]);
    const master = new Master(spec, control, child);
    const end = performance.now() + timeout;
    while (!(await master.check())) {
      if (master.#exit !== undefined || performance.now() > end) {
        const said = await settlesWithin(master.#stderr, 500) ? (await master.#stderr).trim() : "";
        const timedOut = master.#exit === undefined;
        await master.close();
        throw new HostError(explain(said, timedOut, timeout, spec), { host: spec.name });
      }
      await delay(50);
    }
    return master;
  }

  /** Whether the master process still runs. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The arguments of an ssh client that goes through this master. */
  client(): string[] {
    return [...sshOptions(this.#spec, this.control), "-o", "ControlMaster=no", this.#spec.ssh];
  }

  /** Whether the master serves (`ssh -O check`). */
  async check(): Promise<boolean> {
    if (this.#exit !== undefined) return false;
    return (await this.ask(["check"])).code === 0;
  }

  /**
   * Ask the master something through its control socket (`ssh -O …`),
   * within `timeout` ms: a wedged master makes it exit 255.
   */
  async ask(args: string[], timeout = 10_000): Promise<{ code: number; stderr: string }> {
    const child = new Deno.Command("ssh", {
      args: [...this.client(), "-O", ...args],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const cancel = after(timeout, () => child.kill("SIGKILL"));
    try {
      const { code, signal, stderr } = await child.output();
      return {
        code: signal ? 255 : code,
        stderr: signal
          ? `ssh -O ${args[0]} did not answer within ${timeout} ms`
          : new TextDecoder().decode(stderr),
      };
    } finally {
      cancel();
    }
  }

  /** End the connection. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#status;
    await this.#stderr;
  }
}

/** The ssh options corral always uses: no prompts, deadlines, keep-alives, host keys checked. */
function sshOptions(spec: SshHostSpec, control: string): string[] {
  const options = [
    "-S",
    control,
    "-o",
    "BatchMode=yes", // never a password prompt
    "-o",
    "ConnectTimeout=10",
    "-o",
    "ServerAliveInterval=2",
    "-o",
    "ServerAliveCountMax=3",
    "-o",
    "StreamLocalBindUnlink=yes",
    "-o",
    "ExitOnForwardFailure=yes",
    "-o",
    "LogLevel=ERROR",
  ];
  if (spec.port !== undefined) options.push("-p", String(spec.port));
  if (spec.identity) options.push("-i", spec.identity, "-o", "IdentitiesOnly=yes");
  if (spec.checkHostKey === false) {
    options.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null");
  } else {
    options.push("-o", "StrictHostKeyChecking=yes");
    if (spec.knownHosts) options.push("-o", `UserKnownHostsFile=${spec.knownHosts}`);
  }
  return options;
}

/** What went wrong connecting, and what to check. */
function explain(said: string, timedOut: boolean, timeout: number, spec: SshHostSpec): string {
  const where = `${spec.ssh}${spec.port ? ` port ${spec.port}` : ""}`;
  if (/host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(said)) {
    return `cannot connect to ${where}: its host key is not known (or changed): add it to ` +
      `known_hosts (ssh-keyscan, after checking it), name a known-hosts file, or, for a ` +
      `throwaway lab only, set check-host-key: false (ssh: ${said})`;
  }
  if (/permission denied/i.test(said)) {
    return `cannot log in to ${where}: no key was accepted: load one into the SSH agent or ` +
      `name an identity file (ssh: ${said})`;
  }
  if (timedOut) {
    return `cannot connect to ${where} within ${timeout} ms: check the address and port`;
  }
  return `cannot connect to ${where}: check the address, the port and that sshd runs` +
    (said ? ` (ssh: ${said})` : "");
}
