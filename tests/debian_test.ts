/**
 * `builtin:debian` (issue 23): Debian 12 with systemd, built from Debian's
 * packages, two VMs on a lab network, each with its own name, addresses,
 * machine-id and SSH host keys, and the steps a lab test needs run
 * against them (forwards and wait-port through the host link included).
 */

import assert from "node:assert/strict";
import { parseRecipe, type RunJournal, runRecipe } from "../mod.ts";

function output(journal: RunJournal, step: string, vm: string): Record<string, unknown> {
  const target = journal.steps.find((s) => s.name === step)!.targets.find((t) => t.vm === vm)!;
  return target.output as Record<string, unknown>;
}

Deno.test("debian: two systemd VMs on a lab network, each itself; units, files and commands waited for", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-debian-" });
  const upload = await Deno.makeTempFile({ prefix: "corral-upload-" });
  try {
    await Deno.writeTextFile(upload, "from the host\n");
    const recipe = parseRecipe(
      `recipe: 1
name: debian lab
networks: { lan: {} }
vms:
  defaults: { guest: builtin:debian, networks: [lan] }
  deb1: {}
  deb2: {}
defaults: { timeout: 60s }
steps:
  - { name: up, wait-agent: {}, timeout: 300s }
  - { name: systemd, wait-until: { exec: "systemctl is-system-running --wait | grep -Eq 'running|degraded'" }, timeout: 120s }
  - { name: ssh, wait-unit: { unit: ssh.service } }
  - { name: identity, agent: { exec: "hostname; cat /etc/machine-id; ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" } }
  - { name: neighbour, on: deb1, agent: { exec: "ping -c 1 -W 5 \${{ vms.deb2.address.lan }}" } }
  - { name: break a unit, on: deb2, agent: { exec: "systemd-run --unit=corral-broken --property=Type=oneshot /bin/false; true" } }
  - { name: broken, on: deb2, wait-unit: { unit: corral-broken }, timeout: 50s, continue-on-error: true }
  - { name: put, on: deb1, upload: { from: "${upload}", to: /srv/greeting, mode: "0640" } }
  - { name: later, on: deb1, agent: { exec: "(sleep 1; cp /srv/greeting /srv/copy) >/dev/null 2>&1 &" } }
  - { name: copied, on: deb1, wait-file: { path: /srv/copy } }
  - { name: get, on: deb1, download: { from: /srv/copy, to: copy.txt } }
  - { name: ssh port, on: deb1, wait-port: { port: 22 } }
  - { name: closed port, on: deb1, wait-port: { port: 81 }, timeout: 3s, continue-on-error: true }
  - { name: forwarded, on: deb2, agent: { exec: "echo \${{ vms.deb1.forward.22 }}" } }
`,
      "debian.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1, reportDir: dir });
    assert.equal(journal.verdict, "pass", `${journal.reason}: ${JSON.stringify(journal.steps)}`);
    const [one, two] = ["deb1", "deb2"].map((vm) =>
      (output(journal, "identity", vm).stdout as string).trim().split("\n")
    );
    assert.equal(one![0], "deb1");
    assert.equal(two![0], "deb2");
    assert.notEqual(one![1], two![1], "each VM has its own machine-id");
    assert.notEqual(one![2], two![2], "and its own SSH host key");
    // A failed unit fails the wait at once (failed, not timed out), with what systemd says of it.
    const broken = journal.steps.find((s) => s.name === "broken")!.targets[0]!;
    assert.equal(broken.status, "failed");
    assert.match(broken.error!, /unit corral-broken failed:[\s\S]*corral-broken\.service/);
    assert.equal(await Deno.readTextFile(`${dir}/vms/deb1/copy.txt`), "from the host\n");
    // The forward wait-port made is the one later steps name; a closed port is never "open".
    const ssh = output(journal, "ssh port", "deb1");
    assert.match(String(ssh.host), /^127\.0\.0\.1:\d+$/);
    assert.equal((output(journal, "forwarded", "deb2").stdout as string).trim(), ssh.host);
    const closed = journal.steps.find((s) => s.name === "closed port")!.targets[0]!;
    assert.equal(closed.status, "timeout", closed.error);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(upload);
  }
});

Deno.test("debian: packages are checked before anything is built", () => {
  const recipe = (vm: string) => `recipe: 1\nname: x\nvms: { a: ${vm} }\nsteps: []\n`;
  assert.throws(
    () => parseRecipe(recipe("{ packages: [nginx] }"), "x.yaml"),
    /x\.yaml:3:8: vm .a.: packages are for guest builtin:debian only/,
  );
  assert.throws(
    () => parseRecipe(recipe('{ guest: builtin:debian, packages: ["nginx,curl"] }'), "x.yaml"),
    /packages: "nginx,curl" is not a Debian package name/,
  );
});
