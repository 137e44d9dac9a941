import { collectGarbage } from "../../vm/registry.ts";
import { collectNetworks } from "../../vm/network.ts";
import { defineCommand, flag } from "../command.ts";

/** `corral gc`: stop orphaned VMs, remove what no longer runs. */
export default defineCommand({
  name: "gc",
  synopsis: "[options]",
  usage: `usage: corral gc [options]

Stop orphaned VMs (their corral died) and remove the directories of VMs
that no longer run. VMs whose corral still runs are never touched.

options:
  --all              stop kept VMs (--keep) too
  -h, --help         this help`,
  flags: { all: { type: "boolean", default: false } },
  async run({ values }) {
    const { stopped, removed } = await collectGarbage({ all: flag(values, "all") });
    for (const vm of stopped) console.log(`stopped ${vm.name} (pid ${vm.pid}, ${vm.state})`);
    const networks = Deno.uid() === 0 ? await collectNetworks() : [];
    for (const name of networks) console.log(`removed the lab network namespace ${name}`);
    console.log(`${stopped.length} VM(s) stopped, ${removed.length} director(ies) removed`);
    return 0;
  },
});
