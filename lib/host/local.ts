/**
 * This machine as a host: QEMU runs here, its sockets are here, and it
 * may outlive corral (`--keep`) and join lab networks.
 *
 * @module
 */

import { QemuProcess } from "../_process.ts";
import type { Host } from "./host.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * This machine.
 *
 * @example
 * ```ts
 * import { LOCAL } from "./local.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal((await LOCAL.tool("true", [])).success, true);
 * ```
 */
export const LOCAL: Host = {
  name: undefined,
  can: { keep: true, networks: true },
  address: undefined,
  get qemu() {
    return Deno.env.get("CORRAL_QEMU");
  },
  async tool(program, args) {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
      .output();
    return { success: output.success, stdout: text(output.stdout), stderr: text(output.stderr) };
  },
  writeFile: (path, bytes) => Deno.writeFile(path, bytes, { mode: 0o600 }),
  readText: (path) => Deno.readTextFile(path).catch(() => undefined),
  readable: (path) => Deno.stat(path).then(() => true, () => false),
  stage: (local) => Promise.resolve(local),
  realPath: (path) => Deno.realPath(path),
  makeDir: (_instance, localDir) => Promise.resolve(localDir),
  removeDir: (path) => Deno.remove(path, { recursive: true }).catch(() => {}),
  spawnQemu: (binary, args, vm, options) =>
    Promise.resolve(QemuProcess.spawn(binary, args, vm, options.onKill ?? (() => {}), options)),
  expose: () => Promise.resolve(true),
  unexpose: () => Promise.resolve(),
  alive: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};
