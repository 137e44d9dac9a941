/**
 * `builtin:debian` and the steps a lab test needs (issue 23), on the shipped
 * `recipes/web-lab.yaml` — three Debian VMs with systemd, nginx from
 * `packages:`, a page uploaded, `wait-unit`, `wait-port`, clients fetching
 * over the lab network, this machine fetching through a forward, a
 * screenshot — run with more checks appended (one boot of the lab for all):
 * each VM is itself (name, machine-id, SSH host keys), a failed unit fails
 * its wait at once, files go both ways, a closed port is never "open".
 */

import assert from "node:assert/strict";
import { parseRecipe, planRecipe, type RunJournal } from "../mod.ts";
import { corral, root } from "./_cli.ts";

const MORE = `
  - { name: identity, agent: { exec: "hostname; cat /etc/machine-id; ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" } }
  - { name: neighbour, on: client1, agent: { exec: "ping -c 1 -W 5 \${{ vms.client2.address.lan }}" } }
  - { name: systemd, on: client1, wait-until: { exec: "systemctl is-system-running --wait | grep -Eq 'running|degraded'" }, timeout: 120s }
  - { name: break a unit, on: client2, agent: { exec: "systemd-run --unit=corral-broken --property=Type=oneshot /bin/false; true" } }
  - { name: broken, on: client2, wait-unit: { unit: corral-broken }, timeout: 50s, continue-on-error: true }
  - { name: put, on: client1, upload: { from: "UPLOAD", to: /srv/greeting, mode: "0640" } }
  - { name: later, on: client1, agent: { exec: "(sleep 1; cp /srv/greeting /srv/copy) >/dev/null 2>&1 &" } }
  - { name: copied, on: client1, wait-file: { path: /srv/copy } }
  - { name: get, on: client1, download: { from: /srv/copy, to: copy.txt } }
  - { name: closed port, on: web, wait-port: { port: 81 }, timeout: 3s, continue-on-error: true }
  - { name: forwarded, on: client1, agent: { exec: "echo \${{ vms.web.forward.80 }}" } }
  - { name: no way out, on: client1, agent: { exec: "curl -s -m 5 http://10.0.2.2:HOSTPORT/; echo curl=$?" } }
`;

function target(journal: RunJournal, step: string, vm: string) {
  return journal.steps.find((s) => s.name === step)!.targets.find((t) => t.vm === vm)!;
}

/**
 * What this checks lives in the guest (packages, units, files, ssh and exec
 * from the command line), not in the QEMU build, which boots builtin:debian
 * in the template test on every build: .ci/run's pass with the next QEMU
 * build does not repeat it (CORRAL_CI_REPEAT), to keep CI in its time.
 */
const once = { ignore: Deno.env.get("CORRAL_CI_REPEAT") === "1" };

Deno.test({
  name:
    "debian: recipes/web-lab.yaml, and each VM itself; units, ports, files and commands waited for; corral ssh and exec into the kept lab",
  ...once,
}, async () => {
  const scratch = await Deno.makeTempDir({ prefix: "corral-debian-" });
  const dir = `${scratch}/report`, runtimeDir = `${scratch}/run`;
  // Something to reach on this machine's loopback: a host link without an uplink must not.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("from the host\n"),
  );
  try {
    // The shipped recipe with the checks appended, beside its files (relative paths read from there).
    await Deno.writeTextFile(`${scratch}/upload.txt`, "from the host\n");
    await Deno.mkdir(`${scratch}/files`);
    await Deno.copyFile(`${root}recipes/files/index.html`, `${scratch}/files/index.html`);
    const shipped = await Deno.readTextFile(`${root}recipes/web-lab.yaml`);
    const file = `${scratch}/web-lab.yaml`;
    await Deno.writeTextFile(
      file,
      shipped.trimEnd() + MORE.replace("UPLOAD", `${scratch}/upload.txt`)
        .replace("HOSTPORT", String(server.addr.port)),
    );
    const run = await corral(["run", file, "--keep", "--report", dir], { runtimeDir });
    try {
      assert.equal(run.code, 0, run.out + run.err);
      const journal: RunJournal = JSON.parse(await Deno.readTextFile(`${dir}/journal.json`));
      checkLab(journal, await Deno.readFile(`${dir}/vms/web/web.png`));
      assert.equal(await Deno.readTextFile(`${dir}/vms/client1/copy.txt`), "from the host\n");
      // Into the kept lab: SSH with the run's key and the pinned host key; a command through the agent.
      const ssh = await corral(["ssh", "web", "--", "cat", "/var/www/html/index.html"], {
        runtimeDir,
      });
      assert.equal(ssh.code, 0, ssh.err);
      assert.match(ssh.out, /Hello from the corral web lab/);
      const exec = await corral(["exec", "client1", "--", "hostname"], { runtimeDir });
      assert.equal(exec.out, "client1\n", exec.err);
    } finally {
      await corral(["gc", "--all"], { runtimeDir });
    }
  } finally {
    await server.shutdown();
    await Deno.remove(scratch, { recursive: true });
  }
});

/** What the lab's journal must show. */
function checkLab(journal: RunJournal, png: Uint8Array): void {
  assert.equal(journal.verdict, "pass", `${journal.reason}: ${JSON.stringify(journal.steps)}`);
  // The shipped recipe: the page reached both clients, and this machine through the forward.
  for (const vm of ["client1", "client2"]) {
    const fetched = target(journal, "the clients fetch it", vm).output as { stdout: string };
    assert.match(fetched.stdout, /Hello from the corral web lab/);
  }
  const fetched = target(journal, "this machine fetches it", "web").output as Record<
    string,
    unknown
  >;
  assert.equal(fetched.status, 200);
  assert.match(String(fetched.url), /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.deepEqual([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  // Each VM is itself.
  const ids = ["web", "client1", "client2"].map((vm) =>
    (target(journal, "identity", vm).output as { stdout: string }).stdout.trim().split("\n")
  );
  assert.deepEqual(ids.map((id) => id[0]), ["web", "client1", "client2"]);
  assert.equal(new Set(ids.map((id) => id[1])).size, 3, "each VM has its own machine-id");
  assert.equal(new Set(ids.map((id) => id[2])).size, 3, "and its own SSH host key");
  // A failed unit fails the wait at once (failed, not timed out), with what systemd says of it.
  const broken = target(journal, "broken", "client2");
  assert.equal(broken.status, "failed");
  assert.match(broken.error!, /unit corral-broken failed:[\s\S]*corral-broken\.service/);
  // A closed port is never "open"; the forward later steps name is the one made.
  assert.equal(target(journal, "closed port", "web").status, "timeout");
  const forwarded = (target(journal, "forwarded", "client1").output as { stdout: string }).stdout;
  assert.equal(`http://${forwarded.trim()}/`, fetched.url);
  // No uplink: the host link reaches nothing, though a server listens there.
  const out = (target(journal, "no way out", "client1").output as { stdout: string }).stdout;
  assert.match(out, /^curl=([1-9]\d*)\n$/, out);
}

Deno.test("debian: check knows its root disk and its host link", () => {
  const recipe = (vm: string, step: string) =>
    `recipe: 1\nname: x\nvms: { a: ${vm} }\nsteps:\n  - { name: s, ${step} }\n`;
  const debian = "{ guest: builtin:debian, disks: [{ size: 8M }] }";
  for (
    const step of [
      "disk-fault: { disk: root }",
      "disk-fault: { disk: disk0 }",
      "forward: { port: 22 }",
    ]
  ) {
    planRecipe(parseRecipe(recipe(debian, step), "x.yaml"), 1);
  }
  assert.throws(
    () =>
      planRecipe(
        parseRecipe(recipe("{ guest: builtin:linux }", "wait-port: { port: 22 }"), "x.yaml"),
        1,
      ),
    /wait-port cannot run on a: it has no host link/,
  );
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
