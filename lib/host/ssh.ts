/**
 * SSH hosts: one multiplexed OpenSSH connection per host (a control
 * master, as Ansible uses), through which corral runs commands, copies
 * files and forwards unix sockets. The master dies with corral (a
 * parent-death signal), and QEMUs it started on the host die with the
 * connection. Host keys are checked against known_hosts unless a throwaway
 * lab says otherwise; keys come from the SSH agent or an identity file,
 * never a password.
 *
 * @module
 */

import { HostError } from "../errors.ts";
import { after } from "../_async.ts";
import { shellWord } from "../_text.ts";
import { makePrivateDir } from "../_runtime_dir.ts";
import { Master } from "./_master.ts";
import type { HostSpec, SshHostSpec } from "./spec.ts";

export type { HostSpec } from "./spec.ts";

/** Options of {@linkcode SshHost.prototype.run}. */
export interface HostRunOptions {
  /** Bytes for the command's standard input. */
  stdin?: Uint8Array | undefined;
  /** Deadline in ms. Default 30,000. */
  timeout?: number | undefined;
}

/** What a command on the host did. */
export interface HostRunResult {
  /** Its exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/**
 * One SSH host, reached through a control master.
 *
 * @example
 * ```ts ignore
 * const host = await SshHost.connect({ name: "h1", ssh: "root@10.0.0.2" });
 * console.log((await host.run("uname -r")).stdout);
 * await host.close();
 * ```
 */
export class SshHost {
  /** What the host was reached with. */
  readonly spec: SshHostSpec;
  #dir: string;
  #masters: Master[];
  #opening: Promise<Master> | undefined;
  #closed = false;
  #base: Promise<string> | undefined;
  #uploads = new Map<string, Promise<string>>();

  private constructor(spec: SshHostSpec, dir: string, master: Master) {
    this.spec = spec;
    this.#dir = dir;
    this.#masters = [master];
  }

  /** The host's name. */
  get name(): string {
    return this.spec.name;
  }

  /** Whether the connection is up (its first master runs). */
  get up(): boolean {
    return !this.#closed && this.#masters[0]!.running;
  }

  /** How many SSH connections serve the host now (one per `maxSessions` sessions). */
  get connections(): number {
    return this.#masters.length;
  }

  /**
   * Open the control master and wait until it serves.
   *
   * @throws {HostError} It could not: the message says what to check
   *   (host key, login, address), in ssh's own words too.
   */
  static async connect(given: HostSpec, options: { timeout?: number } = {}): Promise<SshHost> {
    if (!given.ssh) {
      throw new HostError("an SSH host needs ssh: user@host", { host: given.name });
    }
    const spec = given as SshHostSpec;
    const dir = await makePrivateDir("ssh-");
    try {
      return new SshHost(
        spec,
        dir,
        await Master.open(spec, `${dir}/ctl0`, options.timeout ?? 20_000),
      );
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /**
   * Run a shell command line on the host.
   *
   * @throws {HostError} The connection is down or dropped, or the deadline passed.
   */
  async run(command: string, options: HostRunOptions = {}): Promise<HostRunResult> {
    // sshd may still count a session that just ended: a refusal is worth two more tries.
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#runOnce(command, options);
      } catch (error) {
        if (!(error instanceof RefusedSession) || attempt === 3) throw error;
      }
    }
  }

  async #runOnce(command: string, options: HostRunOptions): Promise<HostRunResult> {
    this.#requireUp(command);
    const timeout = options.timeout ?? 30_000;
    const child = await this.spawn(command, { stdin: options.stdin !== undefined });
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(options.stdin).catch(() => {});
      await writer.close().catch(() => {});
    }
    const cancel = after(timeout, () => child.kill("SIGKILL"));
    try {
      const output = await child.output();
      const result = {
        code: output.code,
        stdout: new TextDecoder().decode(output.stdout),
        stderr: new TextDecoder().decode(output.stderr),
      };
      if (output.signal === "SIGKILL") {
        throw new HostError(
          `${JSON.stringify(command.slice(0, 80))} did not finish within ${timeout} ms`,
          { host: this.name },
        );
      }
      if (/Session open refused/.test(result.stderr)) throw this.refused();
      if (output.code === 255 && !this.up) {
        throw new HostError(`the connection dropped: ${result.stderr.trim()}; check the host`, {
          host: this.name,
        });
      }
      return result;
    } finally {
      cancel();
    }
  }

  /** Run `command` and fail unless it exits 0; resolves to its standard output. */
  async check(command: string, options: HostRunOptions = {}): Promise<string> {
    const result = await this.run(command, options);
    if (result.code !== 0) {
      throw new HostError(
        `${JSON.stringify(command.slice(0, 80))} exited ${result.code}: ${
          result.stderr.trim().split("\n").slice(-2).join(" / ")
        }`,
        { host: this.name },
      );
    }
    return result.stdout;
  }

  /**
   * Start a command on the host through a master with a session to spare
   * (a new connection when every one is at `maxSessions`); its stdio are
   * the channel.
   */
  async spawn(command: string, options: { stdin?: boolean } = {}): Promise<Deno.ChildProcess> {
    const master = await this.#masterWithRoom();
    master.sessions++;
    const child = new Deno.Command("ssh", {
      args: [...master.client(), "--", command],
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child.status.finally(() => master.sessions--);
    return child;
  }

  /** Forward the local unix socket `local` to `remote` on the host. */
  async forward(local: string, remote: string): Promise<void> {
    this.#requireUp("forward");
    await Deno.remove(local).catch(() => {});
    const { code, stderr } = await this.#masters[0]!.ask([
      "forward",
      "-L",
      `${local}:${remote}`,
    ]);
    if (code !== 0) {
      throw new HostError(
        `cannot forward ${local} to ${remote}: ${stderr.trim()}; ` +
          `the host's sshd needs AllowStreamLocalForwarding yes`,
        { host: this.name },
      );
    }
  }

  /** Stop forwarding `local` (and remove it). */
  async unforward(local: string, remote: string): Promise<void> {
    if (this.up) {
      await this.#masters[0]!.ask(["cancel", "-L", `${local}:${remote}`]).catch(() => {});
    }
    await Deno.remove(local).catch(() => {});
  }

  /** The private runtime directory on the host (made 0700 once, refused if others may enter). */
  runtimeDir(): Promise<string> {
    const wanted = this.spec.runtimeDir
      ? shellWord(this.spec.runtimeDir)
      : '"/tmp/corral-$(id -u)"';
    this.#base ??= this.check(
      `d=${wanted}; mkdir -p -m 700 "$d" && [ -O "$d" ] && ` +
        `[ "$(stat -c %a "$d")" = 700 ] && echo "$d" || ` +
        `{ echo "$d is not a private directory of this user (0700)" >&2; exit 1; }`,
    ).then((out) => out.trim());
    return this.#base;
  }

  /** Make a fresh private directory for a VM on the host. */
  async makeDir(name: string): Promise<string> {
    const base = await this.runtimeDir();
    return (await this.check(`mktemp -d ${shellWord(`${base}/${name.slice(0, 24)}-XXXXXX`)}`))
      .trim();
  }

  /**
   * Copy a local file to the host once per connection (the same file is
   * copied once, however many VMs use it); resolves to its path there.
   */
  upload(local: string): Promise<string> {
    let copied = this.#uploads.get(local);
    if (!copied) {
      copied = (async () => {
        const base = await this.runtimeDir();
        const info = await Deno.stat(local);
        const name = `${local.split("/").pop()}-${info.size}-${info.mtime?.getTime() ?? 0}`;
        const remote = `${base}/files/${name}`;
        await this.check(
          `mkdir -p -m 700 ${shellWord(`${base}/files`)} && umask 077 && ` +
            `cat > ${shellWord(`${remote}.part`)} && mv ${shellWord(`${remote}.part`)} ${
              shellWord(remote)
            }`,
          { stdin: await Deno.readFile(local), timeout: 120_000 },
        );
        return remote;
      })();
      this.#uploads.set(local, copied);
      copied.catch(() => this.#uploads.delete(local));
    }
    return copied;
  }

  /** Close the connections (QEMUs started through them die with them) and remove their files. */
  async close(): Promise<void> {
    if (this.up && this.#base) {
      // The copies of builtin guests go with the run.
      const base = await this.#base.catch(() => undefined);
      if (base) await this.run(`rm -rf ${shellWord(`${base}/files`)}`).catch(() => {});
    }
    this.#closed = true;
    await Promise.all(this.#masters.map((master) => master.close()));
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Whether the connection still serves (asks the master; `up` only knows it has not exited). */
  alive(): Promise<boolean> {
    return this.#closed ? Promise.resolve(false) : this.#masters[0]!.check();
  }

  /** The host's sshd refused a session (ssh then exits 0 having run nothing). */
  refused(): HostError {
    return new RefusedSession(
      `the host refused a session: its sshd allows fewer sessions per connection (MaxSessions) ` +
        `than max-sessions (${this.spec.maxSessions ?? 10}): lower max-sessions`,
      { host: this.name },
    );
  }

  /** A master with a session to spare, opening one more connection when none has. */
  async #masterWithRoom(): Promise<Master> {
    // Two to spare: sshd counts a session a little longer than the client that ended it.
    const limit = Math.max(1, (this.spec.maxSessions ?? 10) - 2);
    const free = this.#masters.find((m) => m.running && m.sessions < limit);
    if (free) return free;
    this.#opening ??= Master.open(this.spec, `${this.#dir}/ctl${this.#masters.length}`, 20_000)
      .then((master) => (this.#masters.push(master), master))
      .finally(() => this.#opening = undefined);
    const opened = await this.#opening;
    return opened.sessions < limit ? opened : await this.#masterWithRoom();
  }

  #requireUp(what: string): void {
    if (!this.up) {
      throw new HostError(
        `the connection is down (${JSON.stringify(what.slice(0, 60))} not run): check that the ` +
          `host is up and its sshd runs`,
        { host: this.name },
      );
    }
  }
}

/** A session the host's sshd refused (more than its MaxSessions on one connection). */
class RefusedSession extends HostError {}
