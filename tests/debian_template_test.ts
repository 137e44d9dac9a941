/**
 * Fast labs of real Debian VMs (issue 23): `template: warm` boots one
 * `builtin:debian` VM until systemd is done, saves it, and starts every
 * other VM of the spec from that state, each then made itself through its
 * agent — its name, machine-id, SSH host keys and the SSH key corral made
 * for it — with its disk continuing the template's. With `uplink: true`
 * each gets out through QEMU's NAT: here to a server on this machine's
 * loopback (10.0.2.2), the only place tests send traffic.
 */

import assert from "node:assert/strict";
import { Lab, saveCheckpoint } from "../mod.ts";

const SPEC = { guest: "builtin:debian", template: "warm" as const, uplink: true };

Deno.test("debian: template: warm clones wake up booted, each with its own name, machine-id, host keys and login key; each disk its own; a checkpoint of the lab comes back with what its ext4 held then; the next lab takes the template from the cache", async () => {
  const cache = await Deno.makeTempDir({ prefix: "corral-templates-" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("from the host\n"),
  );
  try {
    const seen = new Set<string>();
    {
      await using lab = await Lab.launch(
        ["d1", "d2"].map((name) => ({ name, ...SPEC })),
        { timeout: 300_000, templateCache: cache },
      );
      assert.equal(lab.reusedTemplates, 0);
      await checkClones(lab, seen, server.addr.port);
      await checkCheckpoint(lab);
    }
    // A second lab of the spec: no template boots; its clones are themselves all the same.
    await using again = await Lab.launch(
      ["d3"].map((name) => ({ name, ...SPEC })),
      { timeout: 300_000, templateCache: cache },
    );
    assert.equal(again.reusedTemplates, 1);
    await checkClones(again, seen, server.addr.port);
  } finally {
    await server.shutdown();
    await Deno.remove(cache, { recursive: true });
  }
});

async function checkClones(lab: Lab, seen: Set<string>, port: number): Promise<void> {
  for (const vm of lab.names.map((name) => lab.vm(name))) {
    const run = async (command: string) => {
      const result = await vm.agent.exec(command, { timeout: 60_000 });
      assert.equal(result.exitCode, 0, `${vm.name}: ${command}: ${result.stderr}`);
      return result.stdout.trim();
    };
    // Restored, not booted: systemd is already done and the clone never ran the provisioning unit.
    assert.match(await run("systemctl is-system-running || true"), /^(running|degraded)$/);
    assert.equal(await run("hostname; cat /etc/hostname"), `${vm.name}\n${vm.name}`);
    const own = [
      await run("cat /etc/machine-id"),
      await run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"),
    ];
    for (const value of own) {
      assert.ok(!seen.has(value), `${vm.name} shares ${value} with another clone`);
      seen.add(value);
    }
    assert.match(own[0]!, /^[0-9a-f]{32}$/);
    const key = (await Deno.readTextFile(`${vm.dir}/ssh_key.pub`)).trim();
    assert.equal(await run("cat /root/.ssh/authorized_keys"), key);
    assert.equal(await run("systemctl is-active ssh"), "active");
    // The uplink: QEMU's NAT takes it out, here to this machine's loopback.
    assert.equal(await run(`curl -sf -m 20 http://10.0.2.2:${port}/`), "from the host");
    // Each clone writes to its own disk: the others do not see it.
    await run(`echo ${vm.name} > /var/lib/mine && sync`);
  }
  for (const vm of lab.names.map((name) => lab.vm(name))) {
    const mine = await vm.agent.exec("cat /var/lib/mine", { timeout: 60_000 });
    assert.equal(mine.stdout, `${vm.name}\n`);
  }
}

/**
 * Save the lab at a checkpoint, write over each guest's file after it, and
 * start a lab from the checkpoint: each guest's ext4 holds what it held at
 * the checkpoint, and it takes the SSH key corral made for the new launch.
 */
async function checkCheckpoint(lab: Lab): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "corral-checkpoints-" });
  try {
    const vms = lab.names.map((name) => lab.vm(name));
    const saved = await saveCheckpoint(vms, dir);
    for (const vm of vms) await vm.agent.exec("echo after > /var/lib/mine && sync");
    await using back = await Lab.launch(
      vms.map((vm) => ({ name: vm.name, ...SPEC })),
      { timeout: 300_000, checkpoint: saved },
    );
    for (const vm of back.names.map((name) => back.vm(name))) {
      const mine = await vm.agent.exec("cat /var/lib/mine /root/.ssh/authorized_keys");
      const key = (await Deno.readTextFile(`${vm.dir}/ssh_key.pub`)).trim();
      assert.equal(mine.stdout.trim(), `${vm.name}\n${key}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
