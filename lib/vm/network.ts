/**
 * Lab networks: private segments for a lab's VMs that never touch the
 * host's own network. By default each network is a switch corral runs
 * itself (`switch.ts`): QEMU's NICs connect to it over unix sockets, no
 * privileges or kernel support are needed, network faults are applied
 * there, and it dies with corral. `via: bridge` uses the kernel instead (a
 * namespace with a bridge and taps; root only).
 *
 * @module
 */

import { makePrivateDir } from "../_runtime_dir.ts";
import { makeBridges, removeNamespace } from "./_bridge.ts";
import { Switch } from "./switch.ts";

export { collectNetworks } from "./_bridge.ts";

/** One segment and the addresses of its VMs. */
export interface NetworkSpec {
  /** The segment's name, e.g. `lan`. */
  name: string;
  /** Its subnet, e.g. `10.44.0.0/24`. */
  subnet: string;
  /** Its VMs, in order, with their addresses (`10.44.0.2/24`). */
  members: { vm: string; address: string }[];
  /** `switch` (default: corral's own, no privileges) or `bridge` (the kernel's; root). */
  via?: "switch" | "bridge" | undefined;
  /** Write every frame to `NAME.pcap` in the capture directory (switch only). */
  capture?: boolean | undefined;
}

/** A NIC of a VM on a lab network (what the launcher needs). */
export type Nic =
  & {
    /** The guest's address on the segment, e.g. `10.44.0.2/24`. */
    address: string;
    /** The segment's name. */
    network: string;
  }
  & (
    /** On a switch: the unix socket QEMU's NIC connects to. */
    | { socket: string; netns?: undefined; tap?: undefined }
    /** On a bridge: the namespace QEMU runs in, and its tap there. */
    | { netns: string; tap: string; socket?: undefined }
  );

/** Options of {@linkcode LabNetworks.create}. */
export interface LabNetworksOptions {
  /** Where `capture: true` networks write `NAME.pcap`. */
  captureDir?: string | undefined;
}

/** The networks of one lab, created together and removed together. */
export class LabNetworks implements AsyncDisposable {
  #nics = new Map<string, Nic[]>();
  #switches = new Map<string, Switch>();
  /** The capture files written (`NAME.pcap`), by their name in the capture directory. */
  readonly captures: string[] = [];
  #netns: string | undefined;
  #dir: string | undefined;

  private constructor() {}

  /**
   * Start a switch per network (or, for `via: bridge`, make the namespace
   * with its bridges and taps).
   *
   * @throws {LaunchError} A bridge without root, or `ip` failed: says what is missing.
   */
  static async create(
    networks: readonly NetworkSpec[],
    options: LabNetworksOptions = {},
  ): Promise<LabNetworks> {
    const lab = new LabNetworks();
    try {
      const bridged = networks.filter((n) => n.via === "bridge");
      if (bridged.length > 0) await lab.#bridge(bridged);
      const switched = networks.filter((n) => n.via !== "bridge");
      if (switched.length > 0) lab.#dir = await makePrivateDir("net-");
      for (const network of switched) await lab.#switch(network, options);
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

  /** The switch of network `name` (`undefined` for a bridged one). */
  switchOf(name: string): Switch | undefined {
    return this.#switches.get(name);
  }

  /** The switches `vm` has a port on. */
  switchesOf(vm: string): Switch[] {
    return this.nicsOf(vm).flatMap((nic) => this.#switches.get(nic.network) ?? []);
  }

  /** Stop the switches (and remove the namespace with every bridge and tap). */
  async destroy(): Promise<void> {
    await this.stopSwitches();
    if (this.#netns) await removeNamespace(this.#netns);
  }

  /**
   * Stop the switches and remove their sockets, leaving bridges: what
   * `--keep` does (a switch lives in corral's process and cannot outlive
   * it; kept VMs on a bridge keep their network).
   */
  async stopSwitches(): Promise<void> {
    await Promise.all([...this.#switches.values()].map((sw) => sw.close()));
    this.#switches.clear();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode LabNetworks.prototype.destroy}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  async #switch(network: NetworkSpec, options: LabNetworksOptions): Promise<void> {
    const capture = network.capture && options.captureDir
      ? `${options.captureDir}/${network.name}.pcap`
      : undefined;
    const vms = network.members.map((m) => m.vm);
    const dhcp = {
      server: hostAddress(network.subnet, 1),
      prefix: Number(network.subnet.split("/")[1]),
      leases: new Map(network.members.map((m) => [m.vm, m.address])),
    };
    const sw = await Switch.start(network.name, vms, { dir: this.#dir, capture, dhcp });
    if (capture) this.captures.push(`${network.name}.pcap`);
    this.#switches.set(network.name, sw);
    for (const member of network.members) {
      this.#add(member.vm, {
        network: network.name,
        address: member.address,
        socket: sw.socketOf(member.vm),
      });
    }
  }

  async #bridge(networks: readonly NetworkSpec[]): Promise<void> {
    const { netns, taps } = await makeBridges(networks);
    this.#netns = netns;
    for (const [vm, list] of taps) {
      for (const nic of list) this.#add(vm, { ...nic, netns });
    }
  }

  #add(vm: string, nic: Nic): void {
    this.#nics.set(vm, [...(this.#nics.get(vm) ?? []), nic]);
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
  const bits = subnet.split("/")[1];
  return vms.map((vm, i) => ({ vm, address: `${hostAddress(subnet, 2 + i)}/${bits}` }));
}

/** The `n`th address of `subnet` (`.1` is the lab's own end: the switch's DHCP server). */
function hostAddress(subnet: string, n: number): string {
  const parts = subnet.split("/")[0]!.split(".").map(Number);
  const at = (((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0) + n;
  return `${at >>> 24}.${(at >>> 16) & 255}.${(at >>> 8) & 255}.${at & 255}`;
}
