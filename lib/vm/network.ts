/**
 * Lab networks: private segments for a lab's VMs that never touch the
 * host's own network. Each lab gets a network namespace of its own
 * (`corral-PID-XXXX`) holding one Linux bridge per segment and a tap per
 * NIC; QEMU is started inside that namespace, so its taps are there too.
 * Everything goes with the namespace at the end (and `corral gc` removes
 * the namespace of a corral that died). Needs root (`ip netns`).
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import { processes } from "./_procs.ts";

/** One segment and the addresses of its VMs. */
export interface NetworkSpec {
  /** The segment's name, e.g. `lan`. */
  name: string;
  /** Its subnet, e.g. `10.44.0.0/24`. */
  subnet: string;
  /** Its VMs, in order, with their addresses (`10.44.0.2/24`). */
  members: { vm: string; address: string }[];
}

/** A NIC of a VM on a lab network (what the launcher needs). */
export interface Nic {
  /** The network namespace QEMU runs in. */
  netns: string;
  /** The tap device inside it. */
  tap: string;
  /** The guest's address on the segment, e.g. `10.44.0.2/24`. */
  address: string;
  /** The segment's name. */
  network: string;
}

const PREFIX = "corral-";

/** The networks of one lab, created together and removed together. */
export class LabNetworks implements AsyncDisposable {
  /** The namespace. */
  readonly netns: string;
  #nics = new Map<string, Nic[]>();

  private constructor(netns: string) {
    this.netns = netns;
  }

  /**
   * Create the namespace, a bridge per network and a tap per NIC.
   *
   * @throws {LaunchError} Not root, or `ip` failed: says what is missing.
   */
  static async create(networks: readonly NetworkSpec[]): Promise<LabNetworks> {
    if (Deno.uid() !== 0) {
      // An unprivileged user namespace could hold the bridge, but a tap needs /dev/net/tun, which
      // is root-only on Debian: say so rather than fail half-way.
      throw new LaunchError(
        "lab networks need root: corral makes a network namespace with a bridge and a tap per NIC " +
          "(ip netns, /dev/net/tun, which only root may open here); run as root, or leave networks out",
        {},
      );
    }
    const lab = new LabNetworks(`${PREFIX}${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`);
    await ip(["netns", "add", lab.netns]);
    try {
      await ip(["-n", lab.netns, "link", "set", "lo", "up"]);
      for (const [n, network] of networks.entries()) {
        const bridge = `br${n}`;
        await ip(["-n", lab.netns, "link", "add", bridge, "type", "bridge"]);
        await ip(["-n", lab.netns, "link", "set", bridge, "up"]);
        for (const [m, member] of network.members.entries()) {
          const tap = `t${n}x${m}`;
          await ip(["-n", lab.netns, "tuntap", "add", "dev", tap, "mode", "tap"]);
          await ip(["-n", lab.netns, "link", "set", tap, "master", bridge, "up"]);
          const nics = lab.#nics.get(member.vm) ?? [];
          nics.push({ netns: lab.netns, tap, address: member.address, network: network.name });
          lab.#nics.set(member.vm, nics);
        }
      }
      return lab;
    } catch (error) {
      await lab.destroy();
      throw error;
    }
  }

  /** The NICs of `vm`, in the order its networks were declared. */
  nicsOf(vm: string): Nic[] {
    return this.#nics.get(vm) ?? [];
  }

  /** Remove the namespace, and with it every bridge and tap. */
  async destroy(): Promise<void> {
    await ip(["netns", "delete", this.netns]).catch(() => {});
  }

  /** Same as {@linkcode LabNetworks.prototype.destroy}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}

/** Remove the lab namespaces of corral processes that are gone; resolves to their names. */
export async function collectNetworks(): Promise<string[]> {
  const list = await new Deno.Command("ip", {
    args: ["netns", "list"],
    stdout: "piped",
    stderr: "null",
  })
    .output().then((o) => new TextDecoder().decode(o.stdout), () => "");
  const running = await processes();
  const removed: string[] = [];
  for (const [name, owner] of list.matchAll(/^corral-(\d+)-\S+/gm).map((m) => [m[0], m[1]])) {
    if (running.has(Number(owner))) continue;
    // A kept VM (--keep) may still run in it: only an empty namespace goes.
    const pids = await new Deno.Command("ip", {
      args: ["netns", "pids", name!],
      stdout: "piped",
      stderr: "null",
    })
      .output().then((o) => new TextDecoder().decode(o.stdout).trim(), () => "");
    if (pids !== "") continue;
    await ip(["netns", "delete", name!]).catch(() => {});
    removed.push(name!);
  }
  return removed;
}

async function ip(args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  } catch (cause) {
    throw new LaunchError("lab networks need the ip command (Debian: apt-get install iproute2)", {
      cause,
    });
  }
  if (!output.success) {
    throw new LaunchError(
      `ip ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
      {},
    );
  }
}

/**
 * Addresses for the VMs of a segment: `subnet`'s `.2`, `.3`, … in order.
 *
 * @example
 * ```ts
 * import { addresses } from "./network.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(addresses("10.44.0.0/24", ["a", "b"]), [
 *   { vm: "a", address: "10.44.0.2/24" },
 *   { vm: "b", address: "10.44.0.3/24" },
 * ]);
 * ```
 */
export function addresses(
  subnet: string,
  vms: readonly string[],
): { vm: string; address: string }[] {
  const [base, bits] = subnet.split("/");
  const parts = base!.split(".").map(Number);
  const start = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  return vms.map((vm, i) => {
    const n = start + 2 + i;
    return { vm, address: `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${bits}` };
  });
}
