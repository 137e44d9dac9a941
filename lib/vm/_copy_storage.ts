/**
 * Live migration without shared storage (`copyStorage`), as libvirt's
 * `--copy-storage-all` does it: the destination serves its new, empty
 * disks over NBD; the source mirrors each of its disks there while the
 * guest runs, until both agree (`ready`); then the machine state moves;
 * once it has, with the source paused, each mirror is ended without a
 * switch (the destination then holds the disk as it was at the pause), the
 * NBD server stops, and only then may the destination run.
 *
 * @module
 */

import { JobError } from "../errors.ts";
import { currentNodes } from "./_block.ts";
import { newJobId } from "./jobs.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** The copy under way: end it after the move, or give it up. */
export interface StorageCopy {
  /** How many disks are copied, and the bytes copied so far. */
  disks: number;
  /** After the migration completed (the source paused): end the mirrors, stop serving. */
  finish(timeout: number): Promise<number>;
  /** The move failed: cancel the mirrors, drop what the source opened, stop serving. */
  abort(): Promise<void>;
}

/** Where the destination serves NBD: beside its migration socket, or the next port. */
function nbdAddress(uri: string): Record<string, unknown> {
  if (uri.startsWith("unix:")) {
    return { type: "unix", path: uri.slice(5).replace(/migrate\.sock$/, "nbd.sock") };
  }
  const [, host, port] = /^tcp:(.*):(\d+)$/.exec(uri)!;
  return { type: "inet", host: host!, port: String(Number(port) + 1) };
}

/**
 * Serve the destination's disks over NBD and mirror every disk of the
 * source's into them; resolves once all are in sync (`ready`).
 *
 * @throws {JobError} A mirror failed before it was in sync.
 */
export async function copyStorage(
  source: Vm,
  target: Vm,
  options: { timeout: number; signal?: AbortSignal | undefined },
): Promise<StorageCopy> {
  const server = nbdAddress(target.incomingUri(source));
  const named = await source.execute("query-named-block-nodes", { flat: true });
  const disks = (await source.execute("query-block")).flatMap((block) => {
    const nodes = currentNodes(named, block.device);
    const root = block.inserted?.["node-name"];
    return nodes && root ? [{ id: block.device, root }] : [];
  });
  const jobs: string[] = [];
  const opened: string[] = [];
  const abort = async () => {
    for (const id of jobs) await source.execute("job-cancel", { id }).catch(() => {});
    for (const id of jobs) await source.execute("job-dismiss", { id }).catch(() => {});
    for (const node of opened) {
      await source.execute("blockdev-del", { "node-name": node }).catch(() => {});
    }
    await target.executeUntyped("nbd-server-stop", {}).catch(() => {});
  };
  try {
    // nbd-server-start takes the older, nested form of the address; blockdev-add the flat one.
    const { type, ...data } = server;
    await target.executeUntyped("nbd-server-start", { addr: { type, data } }, options);
    const since = source.mark();
    for (const { id, root } of disks) {
      // The destination's disk as the guest sees it: its pass-through node (generation 0).
      await target.executeUntyped("block-export-add", {
        type: "nbd",
        id,
        "node-name": `${id}-io`,
        name: id,
        writable: true,
      }, options);
      const copy = `${id}-copy`;
      await source.executeUntyped("blockdev-add", {
        driver: "nbd",
        "node-name": copy,
        server,
        export: id,
      }, options);
      opened.push(copy);
      const job = newJobId();
      await source.executeUntyped("blockdev-mirror", {
        "job-id": job,
        device: root,
        target: copy,
        sync: "full",
        "auto-dismiss": false,
      }, options);
      jobs.push(job);
    }
    await allReady(source, jobs, since, options);
  } catch (error) {
    await abort();
    throw error;
  }
  return {
    disks: disks.length,
    abort,
    finish: (timeout) => finishCopy(source, target, jobs, timeout),
  };
}

/**
 * End the mirrors once the migration completed (the source paused): each,
 * cancelled once in sync, ends as a copy of the disk at that moment, with
 * no switch; then the destination stops serving. Resolves to the bytes copied.
 */
async function finishCopy(
  source: Vm,
  target: Vm,
  jobs: string[],
  timeout: number,
): Promise<number> {
  const since = source.mark();
  for (const id of jobs) await source.execute("job-cancel", { id }, { timeout });
  let bytes = 0;
  for (const id of jobs) {
    await source.client.journal.waitFor({
      names: "JOB_STATUS_CHANGE",
      match: (data) => data.id === id && data.status === "concluded",
    }, { since, timeout });
    const info = (await source.execute("query-jobs")).find((j) => j.id === id);
    bytes += info?.["current-progress"] ?? 0;
    await source.execute("job-dismiss", { id }).catch(() => {});
  }
  jobs.length = 0; // nothing left for an abort to cancel
  await target.executeUntyped("nbd-server-stop", {}, { timeout });
  return bytes;
}

/** Wait until every mirror is `ready`; one that concludes first failed: its error. */
async function allReady(
  source: Vm,
  jobs: readonly string[],
  since: number,
  options: { timeout: number; signal?: AbortSignal | undefined },
): Promise<void> {
  for (const id of jobs) {
    const state = await source.client.journal.waitFor({
      names: "JOB_STATUS_CHANGE",
      match: (data) => data.id === id && (data.status === "ready" || data.status === "concluded"),
    }, { since, timeout: options.timeout, ...(options.signal ? { signal: options.signal } : {}) });
    if (state.data?.status !== "ready") {
      const info = (await source.execute("query-jobs")).find((j) => j.id === id);
      throw new JobError(`copying disk storage failed: ${info?.error ?? "the mirror ended"}`, {
        vm: source.name,
        job: id,
      });
    }
  }
}
