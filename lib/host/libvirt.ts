/**
 * libvirt-managed domains: `attach: libvirt:URI#DOMAIN` (`qemu:///system`,
 * `qemu+ssh://user@host/system`). QMP goes through libvirt's own monitor
 * passthrough, `virt-qemu-qmp-proxy` (package libvirt-clients-qemu), which
 * gives a QMP socket with events; the guest agent through
 * `virsh qemu-agent-command`. libvirt owns the monitor: it marks the
 * domain tainted, and state-changing commands behind its back can confuse
 * it (`plan` says so).
 *
 * @module
 */

import { AgentError, ConnectError } from "../errors.ts";
import { delay } from "../_async.ts";
import { findExecutable, spawnTied } from "../_process.ts";
import { forwardDir } from "./attach.ts";
import { defineAttachKind } from "./host.ts";

/** A `libvirt:URI#DOMAIN` address, taken apart. */
export interface LibvirtAddress {
  /** The libvirt connection URI. */
  uri: string;
  /** The domain's name, id or UUID. */
  domain: string;
}

/** What `plan` and the docs say of driving a domain through libvirt. */
export const LIBVIRT_CAVEAT =
  "libvirt owns the monitor: it marks the domain tainted, and state changes made behind its back " +
  "(stop, cont, device_add, migrate) can confuse it";

/** Whether `address` is a `libvirt:` one. */
export function isLibvirtAddress(address: string | undefined): address is string {
  return address?.startsWith("libvirt:") ?? false;
}

/**
 * Parse `libvirt:URI#DOMAIN`.
 *
 * @throws {ConnectError} Not of that form.
 *
 * @example
 * ```ts
 * import { parseLibvirtAddress } from "./libvirt.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseLibvirtAddress("libvirt:qemu+ssh://root@h1/system#db1"), {
 *   uri: "qemu+ssh://root@h1/system",
 *   domain: "db1",
 * });
 * ```
 */
export function parseLibvirtAddress(address: string): LibvirtAddress {
  const match = /^libvirt:([^#]+)#(.+)$/.exec(address);
  if (!match) {
    throw new ConnectError(
      `${JSON.stringify(address)} is not libvirt:URI#DOMAIN (libvirt:qemu:///system#db1)`,
      { address },
    );
  }
  return { uri: match[1]!, domain: match[2]! };
}

/** A QMP socket for a libvirt domain, served by `virt-qemu-qmp-proxy`. */
export interface LibvirtMonitor {
  /** `unix:/path`, for `Vm.connect`. */
  qmp: string;
  /** `libvirt:URI#DOMAIN`, for `vm.agent`. */
  agent: string;
  /** Stop the proxy and remove its socket. */
  close(): Promise<void>;
}

/**
 * Start libvirt's QMP proxy for the domain and wait until it listens.
 *
 * @throws {ConnectError} The proxy is missing, or it exited (no such domain,
 *   libvirtd not running): its own words are in the message.
 */
export async function openLibvirtMonitor(
  address: string,
  name: string,
  timeout = 20_000,
): Promise<LibvirtMonitor> {
  const { uri, domain } = parseLibvirtAddress(address);
  const proxy = findExecutable("virt-qemu-qmp-proxy");
  if (!proxy) {
    throw new ConnectError(
      "attach: libvirt: needs virt-qemu-qmp-proxy: apt-get install libvirt-clients-qemu",
      { vm: name, address },
    );
  }
  const dir = await forwardDir(name);
  const socket = `${dir}/qmp.sock`;
  // The proxy is a Python script that needs the distribution's libvirt bindings.
  const python = findExecutable("/usr/bin/python3") ?? "python3";
  const child = spawnTied(python, [proxy, "--connect", uri, domain, socket]);
  const stderr = new Response(child.stderr).text().catch(() => "");
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const close = async () => {
    if (!exited) child.kill("SIGTERM");
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const end = performance.now() + timeout;
  while (!await Deno.stat(socket).then(() => true, () => false)) {
    if (exited || performance.now() > end) {
      await close();
      const said = (await stderr).trim().split("\n").slice(-1)[0] ?? "";
      throw new ConnectError(
        `cannot reach libvirt domain ${domain} at ${uri}: ` +
          (said || `the proxy did not listen within ${timeout} ms`) +
          " (is libvirtd running, and is the domain defined and running?)",
        { vm: name, address },
      );
    }
    await delay(20);
  }
  return { qmp: `unix:${socket}`, agent: address, close };
}

/**
 * The guest agent of a libvirt domain, through `virsh qemu-agent-command`
 * (libvirt owns the agent channel too). One virsh per command.
 */
export class LibvirtAgent {
  #address: LibvirtAddress;
  #vm: string;

  /** The agent of the domain at `address` (`libvirt:URI#DOMAIN`). */
  constructor(address: string, vm: string) {
    this.#address = parseLibvirtAddress(address);
    this.#vm = vm;
  }

  /** Send one agent command; resolves to its `return`. */
  async execute(
    command: string,
    args?: Record<string, unknown>,
    options: { timeout?: number; noReply?: boolean } = {},
  ): Promise<unknown> {
    const request = JSON.stringify(
      args ? { execute: command, arguments: args } : { execute: command },
    );
    const seconds = Math.max(1, Math.ceil((options.timeout ?? 30_000) / 1000));
    const { uri, domain } = this.#address;
    const output = await new Deno.Command("virsh", {
      args: [
        "-c",
        uri,
        "qemu-agent-command",
        domain,
        request,
        ...(options.noReply ? ["--async"] : ["--timeout", String(seconds)]),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((cause) => {
      throw new AgentError(`virsh is missing: apt-get install libvirt-clients`, {
        vm: this.#vm,
        cause,
      });
    });
    const text = new TextDecoder();
    if (!output.success) {
      throw new AgentError(
        `the guest agent did not answer ${command} through libvirt: ${
          text.decode(output.stderr).trim()
        }`,
        { vm: this.#vm },
      );
    }
    if (options.noReply) return undefined;
    const reply = JSON.parse(text.decode(output.stdout)) as { return?: unknown };
    return reply.return;
  }

  /** Nothing to close: each command is its own virsh. */
  close(): void {}
}

/** `attach: libvirt:URI#DOMAIN`: a domain libvirt runs, through its QMP proxy and agent passthrough. */
export const libvirtAttach = defineAttachKind({
  name: "libvirt",
  matches: isLibvirtAddress,
  bringsAgent: true,
  caveat: LIBVIRT_CAVEAT,
  async open(address, { vm, agent }) {
    const monitor = await openLibvirtMonitor(address, vm);
    // libvirt 9's proxy sends event data as JSON text.
    return {
      qmp: monitor.qmp,
      agent: agent ?? monitor.agent,
      eventDataAsText: true,
      release: monitor.close,
    };
  },
});
