/**
 * Twins: a running copy of a QEMU corral did not start, for rehearsing
 * what a recipe would do to it. The original's memory is copied while it
 * runs; it is stopped only to freeze its writable disks (an external
 * snapshot: it goes on writing to an overlay beside each image) and save
 * the rest of its state, then runs on; the twin starts from that state with the same machine and
 * devices (its command line, rewritten by `_twin_args.ts`), its disks
 * overlays of the frozen images, its NICs on a private switch, its sockets
 * its own. Closing the twin stops it and commits each overlay back into
 * the original's image, which it then uses as before.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join } from "node:path";
import { CorralError, ExplorationError, LaunchError, MigrationError } from "../errors.ts";
import { shellWord } from "../_text.ts";
import { migrationEnd, untilSettled } from "./_migration.ts";
import { QemuProcess } from "../_process.ts";
import { makePrivateDir } from "../_runtime_dir.ts";
import { QmpClient } from "../qmp/client.ts";
import { type Disk, disksOf } from "./_block.ts";
import { LOCAL } from "../host/local.ts";
import { restoreState, untilListening } from "./_start.ts";
import { twinArgs } from "./_twin_args.ts";
import { toPivot } from "./jobs.ts";
import type { Vm } from "./vm.ts";

/** Options of {@linkcode Twin.clone}. */
export interface TwinOptions {
  /** The original's QMP socket (the path its `-qmp unix:` names): how its process is found. */
  qmp: string;
  /** The switch port a NIC (by netdev id) of the twin connects to. Default: none (the clone is refused). */
  port?: (netdev: string) => string;
  /** The deadline for the clone, in ms. Default 120,000. */
  timeout?: number;
}

interface Frozen {
  disk: Disk;
  /** The image the original wrote to, frozen while the twin lives. */
  image: string;
  /** Where the original writes meanwhile. */
  overlay: string;
}

/** A running copy of a QEMU corral attached to; closing it gives the original its disks back. */
export class Twin implements AsyncDisposable {
  /** The original's name. */
  readonly name: string;
  /** The twin's QMP socket, `unix:PATH`: attach to it. */
  readonly qmp: string;
  /** Each socket the original listens on → the twin's own (an agent's, a serial port's). */
  readonly sockets: ReadonlyMap<string, string>;
  /** How long the original stood still for the clone, in ms. */
  readonly pausedMs: number;
  #original: Vm;
  #process: QemuProcess;
  #dir: string;
  #frozen: Frozen[];
  #closed: Promise<void> | undefined;

  private constructor(
    original: Vm,
    parts: { qmp: string; sockets: Map<string, string>; pausedMs: number },
    process: QemuProcess,
    dir: string,
    frozen: Frozen[],
  ) {
    this.name = original.name;
    this.qmp = `unix:${parts.qmp}`;
    this.sockets = parts.sockets;
    this.pausedMs = parts.pausedMs;
    this.#original = original;
    this.#process = process;
    this.#dir = dir;
    this.#frozen = frozen;
  }

  /**
   * Clone the QEMU behind `original` (connected by its QMP socket
   * `options.qmp`, on this machine) into a twin that runs from the moment
   * the clone froze it.
   *
   * @throws {ExplorationError} Its process is not found here, or its command line cannot be given to a twin.
   *
   * @example
   * ```ts ignore
   * import { Twin, Vm } from "../../mod.ts";
   *
   * const original = await Vm.connect("unix:/srv/vm/qmp.sock", { name: "db1" });
   * await using twin = await Twin.clone(original, { qmp: "/srv/vm/qmp.sock" });
   * console.log(`db1 stood still ${twin.pausedMs} ms; its twin: ${twin.qmp}`);
   * ```
   */
  static async clone(original: Vm, options: TwinOptions): Promise<Twin> {
    const timeout = options.timeout ?? 120_000;
    const deadline = performance.now() + timeout;
    const source = await processServing(options.qmp, original.name);
    const dir = await makePrivateDir(`twin-${original.name.slice(0, 16)}-`);
    let frozen: Frozen[] = [];
    let process: QemuProcess | undefined;
    try {
      const disks = (await disksOf(original)).filter((d) => !d.readOnly);
      const images = disks.map((d) => isAbsolute(d.file) ? d.file : join(source.cwd, d.file));
      const own = new Map(images.map((image, i) => [image, join(dir, `disk${i}.qcow2`)]));
      const parts = rewrite(source.argv, { dir, cwd: source.cwd, disks: own, options }, original);
      const settings = await migrationSettings(original);
      const { pausedMs, held, running } = await freeze(
        original,
        disks,
        images,
        join(dir, "state"),
        timeout,
      );
      frozen = held;
      await restoreSettings(original, settings);
      for (const [i, disk] of disks.entries()) {
        await overlayOf(images[i]!, disk, own.get(images[i]!)!);
      }
      process = QemuProcess.spawn(source.exe, parts.args, `${original.name}-twin`, () => {}, {
        cwd: source.cwd,
      });
      const wait = { deadline, timeout, vm: `${original.name} (twin)` };
      const client = await untilListening(
        process,
        wait,
        (left) => QmpClient.connect(`unix:${parts.qmp}`, { name: wait.vm, timeout: left }),
      );
      try {
        await restoreState(client, join(dir, "state"), deadline);
        if (running) await client.execute("cont");
      } catch (cause) {
        const said = process.stderr.join("\n");
        throw new LaunchError(`${(cause as Error).message}${said ? `: QEMU said: ${said}` : ""}`, {
          vm: wait.vm,
          cause,
          stderr: process.stderr,
        });
      } finally {
        await client.close();
      }
      await Deno.remove(join(dir, "state"));
      return new Twin(original, { ...parts, pausedMs }, process, dir, frozen);
    } catch (error) {
      await process?.terminate(1000);
      await rejoin(original, frozen).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /** Stop the twin, commit each overlay back into the original's image, remove the twin's files. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#process.terminate(1000);
      try {
        await rejoin(this.#original, this.#frozen);
      } finally {
        await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
      }
    })();
    return this.#closed;
  }

  /** {@linkcode Twin.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The QEMU process whose command line names `socket`: its arguments, folder and binary. */
async function processServing(socket: string, vm: string) {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const at = `/proc/${entry.name}`;
    const argv = await Deno.readTextFile(`${at}/cmdline`).then((t) => t.split("\0"), () => []);
    if (argv.at(-1) === "") argv.pop();
    if (!argv.some((a) => a.includes(socket)) || !/qemu-system/.test(basename(argv[0] ?? ""))) {
      continue;
    }
    const [cwd, exe] = await Promise.all([Deno.readLink(`${at}/cwd`), Deno.readLink(`${at}/exe`)]);
    return { argv, cwd, exe: exe.replace(/ \(deleted\)$/, "") };
  }
  throw new ExplorationError(
    `no QEMU process on this machine listens on ${socket}: a twin is made from a local QEMU's command line`,
    { vm },
  );
}

function rewrite(
  argv: readonly string[],
  plan: { dir: string; cwd: string; disks: Map<string, string>; options: TwinOptions },
  original: Vm,
) {
  try {
    const port = plan.options.port ?? ((id: string) => {
      throw new Error(`its NIC ${id} has no switch to join`);
    });
    return twinArgs(argv.slice(1), { ...plan, port });
  } catch (cause) {
    throw new ExplorationError(`cannot clone ${original.name}: ${(cause as Error).message}`, {
      vm: original.name,
      cause,
    });
  }
}

/**
 * Save the original's machine state while it runs (QEMU copies its memory
 * live, then stops it before the switchover and waits: the capability
 * `pause-before-switchover`), freeze each writable disk onto an overlay
 * beside its image at that moment, let QEMU write the rest, and let the
 * original run on: what the twin starts from. The pause is read from the
 * original's own STOP and RESUME.
 */
async function freeze(
  original: Vm,
  disks: readonly Disk[],
  images: readonly string[],
  state: string,
  timeout: number,
): Promise<{ pausedMs: number; held: Frozen[]; running: boolean }> {
  const { running } = await original.status();
  const tag = `corral-twin-${Deno.pid}-${Date.now().toString(36)}`;
  const held = disks.map((disk, i) => ({
    disk,
    image: images[i]!,
    overlay: join(dirname(images[i]!), `${basename(images[i]!)}.${tag}.qcow2`),
  }));
  const journal = original.client.journal;
  const since = original.mark();
  const wait = { since, timeout };
  await original.execute("migrate-set-capabilities", {
    capabilities: [
      { capability: "events", state: true },
      { capability: "pause-before-switchover", state: true },
    ],
  });
  await original.execute("migrate-set-parameters", { "max-bandwidth": 8 * 1024 ** 3 });
  let stopped = !running;
  try {
    await original.execute("migrate", { uri: `exec:cat > ${shellWord(state)}` });
    const reached = await journal.waitFor({
      names: "MIGRATION",
      match: (data) => ["pre-switchover", "failed", "cancelled"].includes(data.status as string),
    }, wait);
    stopped = true;
    if (reached.data?.status !== "pre-switchover") {
      throw new MigrationError(`saving the state ${reached.data?.status}`, { vm: original.name });
    }
    await original.execute("transaction", { actions: snapshots(held, tag) });
    await original.execute("migrate-continue", { state: "pre-switchover" });
    const ended = await migrationEnd(journal, since, timeout);
    if (ended !== "completed") {
      throw new MigrationError(`saving the state ${ended}`, { vm: original.name });
    }
    await untilSettled(original, timeout);
  } catch (error) {
    await original.execute("migrate_cancel").catch(() => {});
    await rejoin(original, held).catch(() => {});
    throw error;
  } finally {
    if (running && stopped) await original.resume().catch(() => {});
  }
  return { pausedMs: running ? await stillFor(original, since) : 0, held, running };
}

/** The external snapshots that freeze each disk onto its overlay. */
function snapshots(held: readonly Frozen[], tag: string) {
  return held.map(({ disk, overlay }, i) => ({
    type: "blockdev-snapshot-sync" as const,
    data: {
      "node-name": disk.node,
      "snapshot-file": overlay,
      "snapshot-node-name": `${tag}-${i}`,
      format: "qcow2",
    },
  }));
}

/** How long the VM stood still, from its STOP to its RESUME after `since` (QEMU's own times). */
async function stillFor(vm: Vm, since: number): Promise<number> {
  const at = (event: { timestamp: { seconds: number; microseconds: number } }) =>
    event.timestamp.seconds * 1000 + event.timestamp.microseconds / 1000;
  const stop = await vm.client.journal.waitFor({ names: "STOP" }, { since, timeout: 5000 });
  const resume = await vm.client.journal.waitFor({ names: "RESUME" }, { since, timeout: 5000 });
  return Math.round(at(resume) - at(stop));
}

/** The twin's disk: an overlay of the frozen image (the original's lock on it is shared: `-u`). */
async function overlayOf(image: string, disk: Disk, file: string): Promise<void> {
  const args = ["create", "-q", "-f", "qcow2", "-u", "-b", image, "-F", disk.format, file];
  const made = await LOCAL.tool("qemu-img", [...args, String(disk.size)]);
  if (!made.success) throw new CorralError(`qemu-img: ${made.stderr.trim()}`, {});
}

/** Commit each overlay back into the image below it (the original uses it again) and remove it. */
async function rejoin(original: Vm, frozen: readonly Frozen[]): Promise<void> {
  for (const { disk, image, overlay } of frozen) {
    const top = (await disksOf(original)).find((d) => d.device === disk.device);
    if (top?.file !== overlay) continue; // never frozen (the snapshot failed), or back already
    await toPivot(original, "block-commit", { device: top.node }, { timeout: 600_000 });
    const after = (await disksOf(original)).find((d) => d.device === disk.device);
    if (after?.file !== disk.file) {
      throw new CorralError(
        `disk ${disk.device} runs on ${after?.file}, not ${image}, after the commit: ${overlay} kept`,
        { vm: original.name },
      );
    }
    await Deno.remove(overlay);
  }
}

type Settings = { events: boolean; pause: boolean; bandwidth: number | undefined };

/** The migration settings a state save changes, to put back as the original had them. */
async function migrationSettings(original: Vm): Promise<Settings> {
  const caps = await original.execute("query-migrate-capabilities");
  const params = await original.execute("query-migrate-parameters");
  const on = (name: string) => caps.find((c) => c.capability === name)?.state ?? false;
  return {
    events: on("events"),
    pause: on("pause-before-switchover"),
    bandwidth: params["max-bandwidth"],
  };
}

async function restoreSettings(original: Vm, settings: Settings): Promise<void> {
  await original.execute("migrate-set-capabilities", {
    capabilities: [
      { capability: "events", state: settings.events },
      { capability: "pause-before-switchover", state: settings.pause },
    ],
  });
  if (settings.bandwidth !== undefined) {
    await original.execute("migrate-set-parameters", { "max-bandwidth": settings.bandwidth });
  }
}
