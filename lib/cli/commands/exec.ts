import { printable } from "../../_text.ts";
import { parseDuration } from "../../recipe/duration.ts";
import { listVms, type VmEntry } from "../../vm/registry.ts";
import { Vm } from "../../vm/vm.ts";
import { defineCommand, text } from "../command.ts";

/** `corral exec VM -- COMMAND…`: a command in a running lab VM, through its guest agent. */
export default defineCommand({
  name: "exec",
  synopsis: "VM [options] -- COMMAND…",
  usage: `usage: corral exec VM [options] -- COMMAND…

Run a command in a VM that corral launched and that still runs (left with
--keep, or orphaned), through its guest agent (builtin:linux and
builtin:debian have one): its output is printed, its exit code is corral's.
A VM whose corral still runs is that corral's: its sockets are in use.

options:
  --timeout DUR      how long the command may take (default 60s)
  -h, --help         this help`,
  flags: { timeout: { type: "string" } },
  async run({ values, positionals }) {
    const [name, ...words] = positionals;
    if (!name || words.length === 0) {
      console.error("corral exec: give a VM and a command: corral exec VM -- COMMAND…");
      return 2;
    }
    const given = text(values, "timeout");
    const timeout = given === undefined ? 60_000 : parseDuration(given);
    if (timeout === undefined) {
      console.error(
        `corral exec: --timeout is a duration like 30s or 2m, not ${JSON.stringify(given)}`,
      );
      return 2;
    }
    const entry = await runningVm(name);
    if (typeof entry === "string") {
      console.error(`corral exec: ${entry}`);
      return 1;
    }
    await using vm = await Vm.connect(entry.qmp, { agent: `unix:${entry.dir}/qga.sock` });
    const result = await vm.agent.exec(words.join(" "), { timeout });
    // A terminal gets the guest's text made printable; a pipe gets it as it is.
    const show = (stream: { isTerminal(): boolean }, out: string) =>
      stream.isTerminal() ? printable(out) : out;
    await Deno.stdout.write(new TextEncoder().encode(show(Deno.stdout, result.stdout)));
    await Deno.stderr.write(new TextEncoder().encode(show(Deno.stderr, result.stderr)));
    return result.exitCode;
  },
});

/** The running VM called `name`, or why there is none to use. */
export async function runningVm(name: string): Promise<VmEntry | string> {
  const vms = await listVms();
  const entry = vms.find((vm) => vm.name === name);
  if (!entry) {
    const running = vms.filter((vm) => vm.state !== "dead").map((vm) => vm.name);
    return `no VM ${JSON.stringify(name)} runs: ${
      running.length ? `these do: ${running.join(", ")}` : "corral ps lists none"
    } (run a recipe with --keep to keep its VMs)`;
  }
  if (entry.state === "dead") return `${name}'s QEMU is gone (corral gc removes what is left)`;
  if (entry.state === "owned") {
    return `${name} belongs to a corral that still runs (pid ${entry.owner}), which holds its ` +
      `sockets: wait for it, or run it with --keep`;
  }
  return entry;
}
