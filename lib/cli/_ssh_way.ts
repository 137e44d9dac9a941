/**
 * The way into a `builtin:debian` VM over SSH, for `corral ssh` and for a
 * run paused at a failure: its host key (read through its agent) pinned in
 * the VM's `known_hosts`, a loopback port forwarded to its port 22, and the
 * `ssh` arguments that use both and the VM's own key.
 *
 * @module
 */

import { portAnswers } from "../vm/forward.ts";
import type { Vm } from "../vm/vm.ts";

/** The `ssh` arguments into `vm` (whose directory is `dir`), or why there are none. */
export async function sshWay(vm: Vm, dir: string): Promise<string[] | string> {
  const key = `${dir}/ssh_key`;
  if (!await Deno.stat(key).then(() => true, () => false)) {
    return `${vm.name} has no SSH key of corral's (builtin:debian VMs get one)`;
  }
  const hostKey = (await vm.agent.readFile("/etc/ssh/ssh_host_ed25519_key.pub")).trim();
  // The forward made before, while it still answers: one per VM, not one per login.
  const known = Number(await Deno.readTextFile(`${dir}/ssh.port`).catch(() => "0"));
  const port = known && await portAnswers(known) ? known : await vm.forward(22);
  await Deno.writeTextFile(`${dir}/ssh.port`, `${port}\n`, { mode: 0o600 });
  const [type, blob] = hostKey.split(/\s+/);
  await Deno.writeTextFile(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${type} ${blob}\n`, {
    mode: 0o600,
  });
  return [
    ...["-i", key, "-p", String(port), "-o", "IdentitiesOnly=yes"],
    ...["-o", `UserKnownHostsFile=${dir}/known_hosts`, "-o", "StrictHostKeyChecking=yes"],
    ...["-o", "LogLevel=ERROR", "root@127.0.0.1"],
  ];
}
