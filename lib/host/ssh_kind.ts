/**
 * The SSH host kind: QEMU runs on a host reached through an OpenSSH
 * control master (see `ssh.ts`); files are staged there, QEMU starts under
 * a parent-death signal, and its unix sockets are forwarded here. Also the
 * `ssh://[user@]host[:port]/path` attach addresses of QEMUs started
 * there by others.
 *
 * @module
 */

import { HostError, TimeoutError } from "../errors.ts";
import { formatMs, shellWord } from "../_text.ts";
import type { QemuChild } from "../_process.ts";
import { forwardDir, isSshAddress, parseSshAddress } from "./attach.ts";
import { defineAttachKind, defineHostKind, type ExposeWait, type Host } from "./host.ts";
import { RemoteQemuProcess } from "./remote_process.ts";
import { SshHost } from "./ssh.ts";

/** An SSH host as a place QEMUs run. */
class SshPlace implements Host {
  readonly connection: SshHost;
  readonly can = { keep: false, networks: false };

  constructor(connection: SshHost) {
    this.connection = connection;
  }

  get name(): string {
    return this.connection.name;
  }

  get address(): string | undefined {
    return this.connection.spec.address;
  }

  get qemu(): string | undefined {
    return this.connection.spec.qemu;
  }

  async tool(program: string, args: string[]) {
    const command = [program, ...args].map(shellWord).join(" ");
    const result = await this.connection.run(command, { timeout: 120_000 });
    return { success: result.code === 0, stdout: result.stdout, stderr: result.stderr };
  }

  async writeFile(path: string, bytes: Uint8Array): Promise<void> {
    await this.connection.check(`umask 077 && cat > ${shellWord(path)}`, { stdin: bytes });
  }

  async readText(path: string): Promise<string | undefined> {
    if (!this.connection.up) return undefined;
    const read = await this.connection.run(`cat ${shellWord(path)}`).catch(() => undefined);
    return read?.code === 0 ? read.stdout : undefined;
  }

  async readable(path: string): Promise<boolean> {
    return (await this.connection.run(`test -r ${shellWord(path)}`)).code === 0;
  }

  stage(local: string): Promise<string> {
    return this.connection.upload(local);
  }

  async realPath(path: string): Promise<string> {
    return (await this.connection.check(`realpath ${shellWord(path)}`)).trim();
  }

  makeDir(instance: string): Promise<string> {
    return this.connection.makeDir(instance);
  }

  async removeDir(path: string): Promise<void> {
    await this.connection.run(`rm -rf ${shellWord(path)}`).catch(() => {});
  }

  spawnQemu(binary: string, args: string[], vm: string): Promise<QemuChild> {
    return RemoteQemuProcess.spawn(this.connection, binary, args, vm);
  }

  /** Wait until QEMU made its sockets on the host, then forward each here. */
  async expose(sockets: readonly [string, string][], wait: ExposeWait): Promise<boolean> {
    const test = sockets.map(([, remote]) => `test -S ${shellWord(remote)}`).join(" && ");
    for (let delay = 5;; delay = Math.min(delay * 2, 100)) {
      if ((await this.connection.run(test)).code === 0) break;
      if (await wait.process.exited(delay)) return false;
      if (performance.now() > wait.deadline) {
        throw new TimeoutError(
          `QEMU did not make its sockets on host '${this.name}' within ${formatMs(wait.timeout)}`,
          { vm: wait.vm, timeout: wait.timeout },
        );
      }
    }
    for (const [local, remote] of sockets) {
      await this.connection.unforward(local, remote);
      await this.connection.forward(local, remote);
    }
    return true;
  }

  async unexpose(sockets: readonly [string, string][]): Promise<void> {
    for (const [local, remote] of sockets) await this.connection.unforward(local, remote);
  }

  alive(): Promise<boolean> {
    return this.connection.alive();
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** Hosts reached over SSH: `hosts: { h1: { ssh: user@host, … } }`. */
export const sshHosts = defineHostKind({
  name: "ssh",
  connect: async (spec) => new SshPlace(await SshHost.connect(spec)),
});

/** `attach: ssh://[user@]host[:port]/path/to/qmp.sock`: a QEMU someone started on an SSH host. */
export const sshAttach = defineAttachKind({
  name: "ssh",
  matches: isSshAddress,
  hostOf: (address, hosts) => parseSshAddress(address, hosts).host,
  async open(address, { vm, agent, host, hosts }) {
    const connection = (host as SshPlace).connection;
    const sockets: [string, string][] = [];
    const dir = await forwardDir(vm);
    const release = async () => {
      for (const [local, remote] of sockets) await connection.unforward(local, remote);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    };
    const forward = async (name: string, remote: string) => {
      if ((await connection.run(`test -S ${shellWord(remote)}`)).code !== 0) {
        throw new HostError(`no socket at ${remote}: is QEMU running there?`, {
          host: connection.name,
        });
      }
      await connection.forward(`${dir}/${name}`, remote);
      sockets.push([`${dir}/${name}`, remote]);
      return `unix:${dir}/${name}`;
    };
    try {
      const qmp = await forward("qmp.sock", parseSshAddress(address, hosts).path);
      const agentHere = isSshAddress(agent)
        ? await forward("qga.sock", parseSshAddress(agent, hosts).path)
        : agent;
      return { qmp, agent: agentHere, release };
    } catch (error) {
      await release();
      throw error;
    }
  },
});
