import { formatMs } from "../../_text.ts";
import { listVms } from "../../vm/registry.ts";
import { defineCommand, flag } from "../command.ts";

/** `corral ps`: the VMs corral left in the runtime directory. */
export default defineCommand({
  name: "ps",
  synopsis: "[options]",
  usage: `usage: corral ps [options]

List the VMs corral launched whose directories are still in the runtime
directory: name, QEMU pid, age, state (owned: its corral runs; kept: left
running with --keep; orphaned: its corral died; dead: only files are left)
and socket paths.

options:
  --json             print the list as JSON
  -h, --help         this help`,
  flags: {
    json: { type: "boolean", default: false },
    // For completions: the names of the VMs that run, one a line.
    names: { type: "boolean", default: false },
  },
  async run({ values }) {
    const vms = await listVms();
    if (flag(values, "names")) {
      for (const vm of vms) if (vm.state !== "dead") console.log(vm.name);
      return 0;
    }
    if (flag(values, "json")) {
      console.log(JSON.stringify(vms, null, 2));
      return 0;
    }
    if (vms.length === 0) {
      console.log("no VMs: corral left nothing in the runtime directory");
      return 0;
    }
    const rows = [["NAME", "PID", "AGE", "STATE", "QMP", "CONSOLE"]];
    for (const vm of vms) {
      rows.push([
        vm.name,
        vm.state === "dead" ? "-" : String(vm.pid ?? "-"),
        formatMs(vm.ageMs),
        vm.state === "owned" ? `owned by ${vm.owner}` : vm.state,
        vm.qmp,
        vm.console ?? "-",
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) {
      console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
    }
    return 0;
  },
});
