/**
 * A move onto another QEMU build (`vm.migrate({ qemu })`): the machine type
 * the VM runs is pinned on the destination (`pc` means another type on a
 * newer build), and a move QEMU cannot accept — to an older build, or to
 * one without that machine type — is refused before anything stops.
 *
 * @module
 */

import { MigrationError } from "../errors.ts";
import type { ToolResult } from "../host/host.ts";
import type { VmHandle as Vm } from "./handle.ts";
import type { LaunchSpec } from "./spec.ts";

/** Runs a program where the VM's QEMU runs. */
type Tool = (program: string, args: string[]) => Promise<ToolResult>;

/**
 * The spec changes that move `vm` onto the QEMU at `binary`, with its
 * machine type pinned.
 *
 * @throws {MigrationError} `binary` is no QEMU, is older than the VM's, or lacks its machine type.
 */
export async function upgradeChanges(
  vm: Vm,
  binary: string,
  tool: Tool,
): Promise<Partial<LaunchSpec>> {
  const refuse = (why: string) =>
    new MigrationError(`cannot move to ${binary}: ${why}; the VM runs on, untouched`, {
      vm: vm.name,
    });
  // QOM names the machine's class: `pc-i440fx-7.2-machine` when the spec said `pc`.
  const type = String(await vm.execute("qom-get", { path: "/machine", property: "type" }));
  const machine = type.replace(/-machine$/, "");
  const { qemu } = await vm.execute("query-version");
  const from = [qemu.major, qemu.minor, qemu.micro];
  const said = await run(tool, binary, ["--version"], refuse);
  const to = /version (\d+)\.(\d+)\.(\d+)/.exec(said)?.slice(1, 4).map(Number);
  if (!to) throw refuse(`it does not say which QEMU it is (--version: ${said.split("\n")[0]})`);
  if (compare(to, from) < 0) {
    throw refuse(
      `QEMU ${to.join(".")} is older than the VM's ${from.join(".")}, and QEMU migrates only to ` +
        "the same or a newer build",
    );
  }
  const known = (await run(tool, binary, ["-machine", "help"], refuse)).split("\n")
    .map((line) => line.split(/\s+/)[0]);
  if (!known.includes(machine)) {
    throw refuse(
      `QEMU ${to.join(".")} has no machine type ${machine}, the VM's, which a move must keep ` +
        "(old machine types are dropped from newer builds)",
    );
  }
  return { qemu: binary, machine };
}

async function run(
  tool: Tool,
  binary: string,
  args: string[],
  refuse: (why: string) => MigrationError,
): Promise<string> {
  let result: ToolResult;
  try {
    result = await tool(binary, args);
  } catch (error) {
    throw refuse(`it could not be run (${(error as Error).message})`);
  }
  if (!result.success) throw refuse(`${args.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
