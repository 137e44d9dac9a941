/**
 * Lab networks the kernel's way, for root: a network namespace of the
 * lab's own (`corral-PID-XXXX`) holding one Linux bridge per segment and
 * a tap per NIC; QEMU runs inside that namespace. Everything goes with the
 * namespace (and `corral gc` removes the namespace of a corral that died).
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import { processes } from "./_procs.ts";

const PREFIX = "corral-";

/** A namespace with a bridge per network and a tap per NIC; the taps by VM. */
export async function makeBridges(
  networks: readonly { name: string; members: readonly { vm: string; address: string }[] }[],
): Promise<
  { netns: string; taps: Map<string, { network: string; tap: string; address: string }[]> }
> {
  if (Deno.uid() !== 0) {
    // An unprivileged user namespace could hold the bridge, but a tap needs /dev/net/tun, which
    // is root-only on Debian: say so rather than fail half-way.
    throw new LaunchError(
      "networks with via: bridge need root: corral makes a network namespace with a bridge and " +
        "a tap per NIC (ip netns, /dev/net/tun, which only root may open here); leave via out to " +
        "use corral's own switch, which needs no privileges",
      {},
    );
  }
  const netns = `${PREFIX}${Deno.pid}-${crypto.randomUUID().slice(0, 6)}`;
  const taps = new Map<string, { network: string; tap: string; address: string }[]>();
  await ip(["netns", "add", netns]);
  try {
    await ip(["-n", netns, "link", "set", "lo", "up"]);
    for (const [n, network] of networks.entries()) {
      const bridge = `br${n}`;
      await ip(["-n", netns, "link", "add", bridge, "type", "bridge"]);
      await ip(["-n", netns, "link", "set", bridge, "up"]);
      for (const [m, member] of network.members.entries()) {
        const tap = `t${n}x${m}`;
        await ip(["-n", netns, "tuntap", "add", "dev", tap, "mode", "tap"]);
        await ip(["-n", netns, "link", "set", tap, "master", bridge, "up"]);
        const nics = taps.get(member.vm) ?? [];
        nics.push({ network: network.name, tap, address: member.address });
        taps.set(member.vm, nics);
      }
    }
    return { netns, taps };
  } catch (error) {
    await removeNamespace(netns);
    throw error;
  }
}

/** Remove a lab's namespace, and with it every bridge and tap. */
export async function removeNamespace(netns: string): Promise<void> {
  await ip(["netns", "delete", netns]).catch(() => {});
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
