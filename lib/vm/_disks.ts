/**
 * A VM's disks, made with qemu-img where its QEMU runs: qcow2 overlays of
 * their base (which stays untouched), or blank ones of a size.
 *
 * @module
 */

import { LaunchError } from "../errors.ts";
import type { Host, ToolResult } from "../host/host.ts";
import type { LaunchSpec } from "./spec.ts";

/** Create the spec's disks in `dir` with qemu-img, where QEMU runs: overlays of their base, or blank. */
export async function makeDisks(spec: LaunchSpec, dir: string, place: Host): Promise<void> {
  for (const [i, disk] of (spec.disks ?? []).entries()) {
    if ("file" in disk) {
      await ownFile(spec.name, disk, place);
      continue;
    }
    const file = `${dir}/disk${i}.qcow2`;
    const args = "base" in disk
      ? [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        await place.realPath(disk.base),
        "-F",
        await imageFormat(disk.base, place),
        file,
      ]
      : ["create", "-q", "-f", "qcow2", file, disk.size];
    let output: ToolResult;
    try {
      output = await place.tool("qemu-img", args);
    } catch (cause) {
      throw new LaunchError("disks need qemu-img: apt-get install qemu-utils", {
        vm: spec.name,
        cause,
      });
    }
    if (!output.success) {
      throw new LaunchError(`disk ${i}: qemu-img failed: ${output.stderr.trim()}`, {
        vm: spec.name,
      });
    }
  }
}

/** A disk that is a file of the user's: there, or made as a new qcow2 of its `size`. */
async function ownFile(vm: string, disk: { file: string; size?: string }, place: Host) {
  if (await place.readable(disk.file)) return;
  if (disk.size === undefined) {
    throw new LaunchError(`disk file ${disk.file} does not exist (give it a size to make it)`, {
      vm,
    });
  }
  const made = await place.tool("qemu-img", ["create", "-q", "-f", "qcow2", disk.file, disk.size]);
  if (!made.success) {
    throw new LaunchError(`disk file ${disk.file}: qemu-img failed: ${made.stderr.trim()}`, { vm });
  }
}

/** `qcow2` or `raw`, as qemu-img sees the image. */
async function imageFormat(path: string, place: Host): Promise<string> {
  const { stdout } = await place.tool("qemu-img", ["info", "--output=json", path]);
  try {
    return JSON.parse(stdout).format ?? "raw";
  } catch {
    return "raw";
  }
}
