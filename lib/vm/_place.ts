/**
 * Where a VM's QEMU runs: this machine, or an SSH host. The launcher
 * prepares files, runs qemu-img and starts QEMU through a place, so that
 * the same spec launches here or there.
 *
 * @module
 */

import type { SshHost } from "../host/ssh.ts";
import { shellWord } from "../_text.ts";

/** What a program run at a place did. */
export interface ToolResult {
  /** Whether it exited 0. */
  success: boolean;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/** This machine, or an SSH host. */
export interface Place {
  /** The SSH host, or `undefined` for this machine. */
  readonly host: SshHost | undefined;
  /** Run `program` with `args` there. */
  tool(program: string, args: string[]): Promise<ToolResult>;
  /** Write a private file there. */
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  /** Whether `path` can be read there. */
  readable(path: string): Promise<boolean>;
  /** A local file's path there (copied once to a host). */
  stage(local: string): Promise<string>;
  /** The absolute, resolved path of `path` there. */
  realPath(path: string): Promise<string>;
  /** Remove a directory there, with what is in it. */
  removeDir(path: string): Promise<void>;
}

/** This machine. */
export const HERE: Place = {
  host: undefined,
  async tool(program, args) {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { success: output.success, stdout: text(output.stdout), stderr: text(output.stderr) };
  },
  writeFile: (path, bytes) => Deno.writeFile(path, bytes, { mode: 0o600 }),
  readable: (path) => Deno.stat(path).then(() => true, () => false),
  stage: (local) => Promise.resolve(local),
  realPath: (path) => Deno.realPath(path),
  removeDir: (path) => Deno.remove(path, { recursive: true }).catch(() => {}),
};

/** An SSH host. */
export function onHost(host: SshHost): Place {
  return {
    host,
    async tool(program, args) {
      const result = await host.run([program, ...args].map(shellWord).join(" "), {
        timeout: 120_000,
      });
      return { success: result.code === 0, stdout: result.stdout, stderr: result.stderr };
    },
    async writeFile(path, bytes) {
      await host.check(`umask 077 && cat > ${shellWord(path)}`, { stdin: bytes });
    },
    readable: async (path) => (await host.run(`test -r ${shellWord(path)}`)).code === 0,
    stage: (local) => host.upload(local),
    realPath: async (path) => (await host.check(`realpath ${shellWord(path)}`)).trim(),
    removeDir: async (path) => {
      await host.run(`rm -rf ${shellWord(path)}`).catch(() => {});
    },
  };
}
