/**
 * A lab network's switch, run by corral itself: every QEMU NIC on the
 * network connects to a port of it over a unix socket (QEMU's
 * `-netdev stream`, frames with a 4-byte length), and it forwards frames by
 * the MAC addresses it learns. No privileges and no kernel support are
 * needed, every frame passes one place corral controls — where network
 * faults are applied (`impair`, `block`) and captured (`capture`), and
 * where a guest that asks DHCP gets its lab address — and the network dies
 * with corral.
 *
 * @module
 */

import { makePrivateDir } from "../_runtime_dir.ts";
import { Impairment, type ImpairmentSpec } from "./_impairment.ts";
import { Pcap } from "./_pcap.ts";
import { Port } from "./_port.ts";
import { type DhcpConfig, dhcpReply } from "./_dhcp.ts";

export type { ImpairmentSpec } from "./_impairment.ts";
export type { DhcpConfig } from "./_dhcp.ts";

/**
 * One lab network's switch.
 *
 * @example Two ports, and a capture
 * ```ts
 * import { Switch } from "./switch.ts";
 * import assert from "node:assert/strict";
 *
 * await using sw = await Switch.start("lan", ["a", "b"]);
 * assert.match(sw.socketOf("a"), /\/lan-a\.sock$/);
 * ```
 */
export class Switch implements AsyncDisposable {
  /** The network's name. */
  readonly name: string;
  /** The directory the switch made for its sockets, removed with it. */
  readonly #dir: string | undefined;
  /** Where its sockets are. */
  readonly #sockets: string;
  readonly #ports = new Map<string, Port>();
  readonly #macs = new Map<string, Port>();
  /** `from>to` pairs whose frames are dropped, counted: overlapping faults each hold theirs. */
  readonly #blocks = new Map<string, number>();
  readonly #impairments = new Map<string, Impairment<Port>>();
  #pcap: Pcap | undefined;
  #dhcp: DhcpConfig | undefined;
  /** What the switch counted so far. */
  readonly counters: {
    /** Frames received from the NICs. */
    received: number;
    /** Frames sent to NICs (after faults). */
    sent: number;
    /** Frames dropped by a block. */
    blocked: number;
    /** Frames a NIC did not take (not connected, or not reading). */
    dropped: number;
  } = { received: 0, sent: 0, blocked: 0, dropped: 0 };

  private constructor(name: string, dir: string | undefined, sockets: string) {
    this.name = name;
    this.#dir = dir;
    this.#sockets = sockets;
  }

  /**
   * Start a switch with a port per VM, each listening on a socket in a
   * private directory (in `dir` when given).
   */
  static async start(
    name: string,
    vms: readonly string[],
    options: { dir?: string; capture?: string; dhcp?: DhcpConfig } = {},
  ): Promise<Switch> {
    const own = options.dir === undefined;
    const dir = options.dir ?? await makePrivateDir(`sw-${name.slice(0, 16)}-`);
    const sw = new Switch(name, own ? dir : undefined, dir);
    sw.#dhcp = options.dhcp;
    try {
      if (options.capture) sw.#pcap = await Pcap.create(options.capture);
      for (const vm of vms) sw.add(vm);
    } catch (error) {
      await sw.close();
      throw error;
    }
    return sw;
  }

  /** Give `vm` a port (a NIC that joins after the start), unless it has one; its socket. */
  add(vm: string): string {
    if (!this.#ports.has(vm)) {
      const port = Port.listen(
        vm,
        `${this.#sockets}/${this.name}-${vm}.sock`,
        (frame) => this.#receive(port, frame),
      );
      this.#ports.set(vm, port);
    }
    return this.socketOf(vm);
  }

  /** The socket a VM's NIC on this network connects to. */
  socketOf(vm: string): string {
    return this.#port(vm).path;
  }

  /** The VMs with a port on this network. */
  get vms(): string[] {
    return [...this.#ports.keys()];
  }

  /**
   * Drop frames between `vm` and each of `peers`: both ways, only those
   * coming in to `vm`, or only those going out of it. Returns what undoes it.
   */
  block(
    vm: string,
    peers: readonly string[],
    direction: "both" | "in" | "out" = "both",
  ): () => void {
    this.#port(vm);
    const keys = peers.filter((peer) => peer !== vm && this.#ports.has(peer)).flatMap((peer) => [
      ...(direction !== "in" ? [`${vm}>${peer}`] : []),
      ...(direction !== "out" ? [`${peer}>${vm}`] : []),
    ]);
    for (const key of keys) this.#blocks.set(key, (this.#blocks.get(key) ?? 0) + 1);
    let undone = false;
    return () => {
      if (undone) return;
      undone = true;
      for (const key of keys) {
        const left = this.#blocks.get(key)! - 1;
        if (left > 0) this.#blocks.set(key, left);
        else this.#blocks.delete(key);
      }
    };
  }

  /**
   * Impair the frames `vm` sends on this network (delay, jitter, loss,
   * duplication, corruption, reordering, rate), as netem would on its
   * interface. Returns what undoes it.
   */
  impair(vm: string, spec: ImpairmentSpec): () => void {
    this.#port(vm);
    const impairment = new Impairment<Port>(spec, (to, frame) => this.#send(to, frame));
    this.#impairments.get(vm)?.close();
    this.#impairments.set(vm, impairment);
    return () => {
      if (this.#impairments.get(vm) !== impairment) return;
      this.#impairments.delete(vm);
      impairment.close();
    };
  }

  /** Whether `vm`'s NIC is connected (its QEMU runs and reached the switch). */
  connected(vm: string): boolean {
    return this.#port(vm).connected;
  }

  /** Stop: close every port and socket, and finish the capture. */
  async close(): Promise<void> {
    for (const impairment of this.#impairments.values()) impairment.close();
    this.#impairments.clear();
    const ports = [...this.#ports.values()];
    await Promise.all(ports.map((port) => port.close()));
    this.#ports.clear();
    await this.#pcap?.close();
    for (const port of ports) await Deno.remove(port.path).catch(() => {});
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /** Same as {@linkcode Switch.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #port(vm: string): Port {
    const port = this.#ports.get(vm);
    if (!port) throw new RangeError(`network '${this.name}' has no VM '${vm}'`);
    return port;
  }

  /** A frame from `from`: learn its source, then forward it (flood when its destination is unknown). */
  #receive(from: Port, frame: Uint8Array): void {
    this.counters.received++;
    this.#pcap?.write(frame);
    if (frame.length < 14) return;
    const source = mac(frame, 6);
    if (!(frame[6]! & 1)) this.#macs.set(source, from);
    const lease = this.#dhcp && dhcpReply(this.#dhcp, from.vm, frame);
    if (lease) {
      // The switch answers for the lab: the request goes no further.
      this.#pcap?.write(lease);
      return this.#send(from, lease);
    }
    const known = frame[0]! & 1 ? undefined : this.#macs.get(mac(frame, 0));
    const targets = known ? [known] : [...this.#ports.values()];
    for (const to of targets) {
      if (to === from) continue;
      if (this.#blocks.has(`${from.vm}>${to.vm}`)) {
        this.counters.blocked++;
        continue;
      }
      const impairment = this.#impairments.get(from.vm);
      if (impairment) impairment.pass(to, frame);
      else this.#send(to, frame);
    }
  }

  #send(to: Port, frame: Uint8Array): void {
    if (to.send(frame)) this.counters.sent++;
    else this.counters.dropped++;
  }
}

function mac(frame: Uint8Array, at: number): string {
  let text = "";
  for (let i = at; i < at + 6; i++) text += frame[i]!.toString(16).padStart(2, "0");
  return text;
}
