import { Vm } from "../../vm/vm.ts";
import { defineCommand } from "../command.ts";
import { runningVm } from "./exec.ts";
import { sshWay } from "../_ssh_way.ts";

/** `corral ssh VM [-- COMMAND…]`: SSH into a kept lab VM, with its key, its host key pinned. */
export default defineCommand({
  name: "ssh",
  synopsis: "VM [-- COMMAND…]",
  usage: `usage: corral ssh VM [-- COMMAND…]

A shell (or a command) as root in a builtin:debian VM that corral launched
and that still runs (left with --keep): through a loopback port forwarded to
its port 22, with the key corral gave it (no password), and its host key
read through its guest agent and pinned (ssh checks it strictly).

options:
  -h, --help         this help`,
  flags: {},
  async run({ positionals }) {
    const [name, ...command] = positionals;
    if (!name) {
      console.error("corral ssh: give a VM: corral ssh VM [-- COMMAND…]");
      return 2;
    }
    const entry = await runningVm(name);
    if (typeof entry === "string") {
      console.error(`corral ssh: ${entry}`);
      return 1;
    }
    let way: string[] | string;
    {
      // Closed before ssh starts: the VM's sockets stay free for corral exec meanwhile.
      await using vm = await Vm.connect(entry.qmp, { agent: `unix:${entry.dir}/qga.sock` });
      way = await sshWay(vm, entry.dir);
    }
    if (typeof way === "string") {
      console.error(`corral ssh: ${way}`);
      return 1;
    }
    const { code } = await new Deno.Command("ssh", {
      args: [...way, ...(command.length ? ["--", ...command] : [])],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return code;
  },
});
