import { portAnswers } from "../../vm/forward.ts";
import { Vm } from "../../vm/vm.ts";
import { defineCommand } from "../command.ts";
import { runningVm } from "./exec.ts";

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
    const key = `${entry.dir}/ssh_key`;
    if (!await Deno.stat(key).then(() => true, () => false)) {
      console.error(`corral ssh: ${name} has no SSH key of corral's (builtin:debian VMs get one)`);
      return 1;
    }
    const port = await pinAndForward(entry.qmp, entry.dir);
    const { code } = await new Deno.Command("ssh", {
      args: [
        ...["-i", key, "-p", String(port), "-o", "IdentitiesOnly=yes"],
        ...["-o", `UserKnownHostsFile=${entry.dir}/known_hosts`, "-o", "StrictHostKeyChecking=yes"],
        ...["-o", "LogLevel=ERROR", "root@127.0.0.1"],
        ...(command.length ? ["--", ...command] : []),
      ],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return code;
  },
});

/**
 * The VM's SSH host key (through its agent) pinned in `dir/known_hosts`, and
 * a loopback port forwarded to its port 22 (the one made before, while it
 * still answers).
 */
async function pinAndForward(qmp: string, dir: string): Promise<number> {
  await using vm = await Vm.connect(qmp, { agent: `unix:${dir}/qga.sock` });
  const hostKey = (await vm.agent.readFile("/etc/ssh/ssh_host_ed25519_key.pub")).trim();
  const known = Number(await Deno.readTextFile(`${dir}/ssh.port`).catch(() => "0"));
  const port = known && await portAnswers(known) ? known : await vm.forward(22);
  await Deno.writeTextFile(`${dir}/ssh.port`, `${port}\n`, { mode: 0o600 });
  const [type, blob] = hostKey.split(/\s+/);
  await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${type} ${blob}\n`, {
    mode: 0o600,
  });
  return port;
}
