/**
 * A new qcow2 image made by QEMU itself (`blockdev-create`, jobs waited
 * for) and opened as named nodes: a backup's target, a moved disk's copy,
 * an external snapshot's overlay.
 *
 * @module
 */

import type { VmHandle as Vm } from "./handle.ts";
import { newJobId, runJob } from "./jobs.ts";

/** A new image, open in QEMU. */
export interface OpenImage {
  /** Its qcow2 node. */
  node: string;
  /** Close its nodes (the file stays). */
  close(): Promise<void>;
}

/** What the image is: its size, what its header names as its backing file, its node names. */
export interface ImageShape {
  size: number;
  backing?: string | undefined;
  /** The backing file's format. Default `qcow2`. */
  backingFormat?: string | undefined;
  /** Its file and qcow2 node names; default fresh ones. */
  nodes?: { file: string; format: string };
  /** Open its backing file too (default: no, the caller attaches a backing node). */
  openBacking?: boolean;
}

/**
 * Create `file` as a qcow2 image and open it (its backing file, if any, is
 * named in its header but not opened: the caller attaches it).
 */
export async function createImage(
  vm: Vm,
  file: string,
  shape: ImageShape,
  jobs: { timeout: number; signal?: AbortSignal | undefined },
): Promise<OpenImage> {
  const id = newJobId();
  const nodes = shape.nodes ?? { file: `${id}-file`, format: `${id}-target` };
  const opened: string[] = [];
  const close = async () => {
    for (const name of opened.reverse()) {
      await vm.execute("blockdev-del", { "node-name": name }).catch(() => {});
    }
  };
  try {
    await runJob(
      vm,
      "blockdev-create",
      { options: { driver: "file", filename: file, size: 0 } },
      jobs,
    );
    await vm.execute("blockdev-add", { driver: "file", "node-name": nodes.file, filename: file });
    opened.push(nodes.file);
    await runJob(vm, "blockdev-create", {
      options: {
        driver: "qcow2",
        file: nodes.file,
        size: shape.size,
        ...(shape.backing
          ? { "backing-file": shape.backing, "backing-fmt": shape.backingFormat ?? "qcow2" }
          : {}),
      },
    }, jobs);
    await vm.execute("blockdev-add", {
      driver: "qcow2",
      "node-name": nodes.format,
      file: nodes.file,
      ...(shape.openBacking ? {} : { backing: null }),
    });
    opened.push(nodes.format);
    return { node: nodes.format, close };
  } catch (error) {
    await close();
    throw error;
  }
}
