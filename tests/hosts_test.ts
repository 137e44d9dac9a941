/**
 * Beyond one machine (issue 15): VMs on SSH hosts. Each host is a network
 * namespace made by the test with its own sshd on a private address; the
 * recipe launches VMs there, crashes one per host, recovers, migrates one
 * from host to host; a host that drops mid-run fails only its VMs; an
 * unknown host key stops that host alone. Everything is removed after.
 */

import assert from "node:assert/strict";
import { Lab, parseRecipe, type RunJournal, runRecipe } from "../mod.ts";
import { canMakeHosts, testHosts } from "./_hosts.ts";
import { corral, recipeFile } from "./_cli.ts";

const ignore = !canMakeHosts();

function statusOf(journal: RunJournal, step: string): Record<string, string> {
  const record = journal.steps.find((s) => s.name === step);
  assert.ok(record, `no step ${step}: ${journal.steps.map((s) => s.name)}`);
  return Object.fromEntries(record.targets.map((t) => [t.vm, t.status]));
}

/** What is left in a host's runtime directory (it may never have been made). */
function leftIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((entry) => entry.name);
  } catch {
    return [];
  }
}

Deno.test({
  name:
    "hosts: one recipe across two SSH hosts and this machine: crash one per host, recover, migrate across",
  ignore,
  async fn() {
    await using hosts = await testHosts(2);
    const file = await recipeFile(
      `recipe: 1
name: across
hosts:
${hosts.yaml()}
vms:
  a[1:2]: { host: h1, groups: [h1] }
  b1: { host: h2, groups: [h2] }
  local1: {}
steps:
  - { name: booted, console: { wait: READY } }
  - { name: crash one per host, id: crash, on: [a1, b1], nmi: {} }
  - { name: panic seen, on: [a1, b1], wait-event: { event: GUEST_PANICKED } }
  - { name: recover, on: [a1, b1], reset: {} }
  - { name: back, id: back, on: [a1, b1], console: { wait: READY } }
  - { name: the others ran on, on: [a2, local1], wait-status: { status: running } }
  - { name: move a2 to h2, id: move, on: a2, migrate: { host: h2 } }
  - { name: a2 answers on h2, on: a2, console: { exec: hello, expect: "/^unknown command/" } }
metrics:
  recovery: { from: crash.start, to: back.end, max: 30s }
  downtime: { value: move.downtimeMs }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
    );
    try {
      const plan = await corral(["plan", file]);
      assert.match(plan.out, /h1 +ssh corraltest@10\.251\.1\.2, host key checked against/);
      assert.match(plan.out, /a1 +launch builtin:tiny on host h1/);
      const result = await corral(["run", file, "--seed", "1", "--json"]);
      assert.equal(result.code, 0, result.out + result.err);
      const journal = JSON.parse(result.out) as RunJournal;
      assert.equal(journal.verdict, "pass", journal.reason);
      const moved = journal.steps.find((s) => s.name === "move a2 to h2")!.targets[0]!.output as {
        from: string;
        to: string;
      };
      assert.deepEqual([moved.from, moved.to], ["a2", "a2-m1"]);
      assert.deepEqual(
        Object.keys(journal.metrics.find((m) => m.name === "recovery")!.values).sort(),
        ["a1", "b1"],
      );
      // Only the local VM went through this machine's QEMU (the recorder); the rest ran on the hosts.
      assert.equal(result.qemuStarts.length, 1);
      for (const spec of hosts.specs) {
        assert.deepEqual(await leftIn(spec.runtimeDir!), ["files"].slice(0, 0));
      }
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name:
    "hosts: a host that drops mid-run fails only its VMs, naming the host; the others go on and finally runs",
  ignore,
  async fn() {
    await using hosts = await testHosts(2);
    const recipe = parseRecipe(
      `recipe: 1
name: drop
hosts:
${hosts.yaml()}
vms:
  a1: { host: h1 }
  b1: { host: h2 }
  local1: {}
steps:
  - { name: booted, console: { wait: READY } }
  - { name: after the drop, qmp: { execute: query-status } }
  - { name: still going, qmp: { execute: query-status } }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
      "drop.yaml",
    );
    const { journal } = await runRecipe(recipe, {
      seed: 1,
      // The drop happens exactly between two steps: asked before each one.
      confirm: async (planned) => {
        if (planned.step.name === "after the drop") await hosts.drop(0);
        return "run";
      },
    });
    assert.equal(journal.verdict, "error", journal.reason);
    assert.deepEqual(statusOf(journal, "after the drop"), { a1: "error", b1: "ok", local1: "ok" });
    const error = journal.steps.find((s) => s.name === "after the drop")!.targets[0]!.error!;
    assert.match(error, /^host 'h1' dropped \(its SSH connection is down: check the host/);
    assert.deepEqual(statusOf(journal, "still going"), { a1: "skipped", b1: "ok", local1: "ok" });
    const stop = statusOf(journal, "stop");
    assert.equal(stop.b1, "ok");
    assert.equal(stop.local1, "ok");
  },
});

Deno.test({
  name:
    "hosts: an unknown host key stops that host alone, with what to do; the other host's VMs run",
  ignore,
  async fn() {
    await using hosts = await testHosts(2);
    await Deno.writeTextFile(`${hosts.dir}/empty_known_hosts`, "");
    const yaml = hosts.yaml().replace(
      /(h1: \{[^}]*known-hosts: )[^,]+/,
      `$1${hosts.dir}/empty_known_hosts`,
    );
    const recipe = parseRecipe(
      `recipe: 1\nname: keys\nhosts:\n${yaml}\nvms:\n  a1: { host: h1 }\n  b1: { host: h2 }\n` +
        `steps:\n  - { name: booted, console: { wait: READY } }\n`,
      "keys.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1 });
    assert.equal(journal.verdict, "error");
    assert.deepEqual(statusOf(journal, "bring up"), { a1: "error", b1: "ok" });
    const error = journal.steps[0]!.targets[0]!.error!;
    assert.match(
      error,
      /host 'h1': cannot connect to corraltest@10\.251\.1\.2: its host key is not known/,
    );
    assert.match(error, /check-host-key: false/);
    assert.deepEqual(
      statusOf(journal, "booted"),
      { b1: "ok" },
      "a VM never brought up takes no step",
    );
  },
});

Deno.test({
  name:
    "hosts: attach ssh://HOST/path drives a QEMU started on the host by someone else, and leaves it running",
  ignore,
  async fn() {
    await using hosts = await testHosts(1);
    const dir = `${hosts.dir}/outside`;
    await Deno.mkdir(dir, { mode: 0o700 });
    await new Deno.Command("chown", { args: [hosts.user, dir] }).output();
    const qemu = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        hosts.namespace(0),
        ...["setpriv", `--reuid=${hosts.user}`, "--regid=nogroup", "--clear-groups"],
        Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64",
        ...["-machine", "none", "-nodefaults", "-display", "none"],
        ...["-qmp", `unix:${dir}/qmp.sock,server=on,wait=off`],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const recipe = parseRecipe(
        `recipe: 1\nname: attach-ssh\nhosts:\n${hosts.yaml()}\n` +
          `vms:\n  legacy: { attach: "ssh://h1${dir}/qmp.sock" }\n  missing: { attach: "ssh://h1${dir}/nope.sock" }\n` +
          "steps:\n  - { name: pause, on: legacy, pause: {} }\n" +
          "  - { name: paused, on: legacy, wait-status: { status: paused } }\n" +
          "  - { name: resume, on: legacy, resume: {} }\n",
        "a.yaml",
      );
      const { journal } = await runRecipe(recipe, { seed: 1 });
      assert.deepEqual(statusOf(journal, "bring up"), { legacy: "ok", missing: "error" });
      assert.match(
        journal.steps[0]!.targets[1]!.error!,
        /host 'h1': no socket at .*nope\.sock: is QEMU running there\?/,
      );
      assert.deepEqual(statusOf(journal, "resume"), { legacy: "ok" });
      // Attached, so never stopped: it still answers, on the host's socket.
      const probe = await new Deno.Command("ip", {
        args: ["netns", "exec", hosts.namespace(0), "test", "-S", `${dir}/qmp.sock`],
      }).output();
      assert.ok(probe.success);
      assert.equal(
        await Promise.race([qemu.status.then(() => "exited"), Promise.resolve("running")]),
        "running",
      );
    } finally {
      qemu.kill("SIGKILL");
      await qemu.status;
    }
  },
});

Deno.test({
  name:
    "hosts: more VMs on a host than sshd allows sessions on one connection (10) open more connections",
  ignore,
  async fn() {
    await using hosts = await testHosts(1);
    const specs = Array.from({ length: 12 }, (_, i) => ({
      name: `many${i + 1}`,
      guest: "none",
      host: "h1",
    }));
    await using lab = await Lab.launch(specs, { hosts: hosts.specs });
    const results = await lab.all().status();
    assert.deepEqual(results.failed, []);
    assert.equal(results.results.length, 12);
  },
});

Deno.test({
  name: "hosts: a QEMU on a host dies when corral's connection to the host drops",
  ignore,
  async fn() {
    await using hosts = await testHosts(1);
    await using lab = await Lab.launch([{ name: "tied", guest: "none", host: "h1" }], {
      hosts: hosts.specs,
    });
    const pid = lab.vm("tied").pid!;
    // The hosts share this machine's process table: the host's QEMU is there to look at (with
    // kill -0: Deno reads /proc only with every permission).
    const alive = async () =>
      (await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).output())
        .success;
    assert.ok(await alive());
    // Cut corral's side of the connection (its ssh masters), as a crash of corral would.
    await new Deno.Command("pkill", { args: ["-KILL", "-f", `ssh -M -N .*${hosts.specs[0]!.ssh}`] })
      .output();
    for (let i = 0; await alive(); i++) {
      if (i > 400) assert.fail(`QEMU ${pid} on the host outlived the connection by 20 s`);
      await new Promise((r) => setTimeout(r, 50)); // polling for a process's end
    }
  },
});

Deno.test("hosts: a password in a recipe is refused at its line; check-host-key must be true or false", () => {
  assert.throws(
    () =>
      parseRecipe(
        "recipe: 1\nname: p\nhosts:\n  h1: { ssh: me@10.9.9.9, password: hunter2, check-host-key: maybe }\n" +
          "vms:\n  a: { host: h1 }\n  b: { host: h9 }\nsteps:\n  - { name: s, pause: {} }\n",
        "p.yaml",
      ),
    (error: Error) => {
      assert.match(
        error.message,
        /p\.yaml:4:27: no password in a recipe: load a key into the SSH agent/,
      );
      assert.match(error.message, /check-host-key must be true or false/);
      assert.match(
        error.message,
        /p\.yaml:7:3: vm 'b': no host 'h9' in hosts; did you mean "h1"\?/,
      );
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});

Deno.test("hosts: --keep is refused for VMs on SSH hosts, before anything runs", async () => {
  const file = await recipeFile(
    "recipe: 1\nname: k\nhosts:\n  h1: { ssh: me@10.251.200.2 }\nvms:\n  a: { host: h1 }\n" +
      "steps:\n  - { name: s, pause: {} }\n",
  );
  try {
    const result = await corral(["run", file, "--keep"]);
    assert.equal(result.code, 2);
    assert.match(result.err, /--keep cannot keep VMs on SSH hosts/);
    assert.deepEqual(result.qemuStarts, []);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test({
  name: "hosts: a declared host that no VM starts on is a migration target",
  ignore,
  async fn() {
    await using hosts = await testHosts(2);
    const recipe = parseRecipe(
      `recipe: 1
name: onto-empty
hosts:
${hosts.yaml()}
vms:
  a1: { host: h1 }
steps:
  - { name: booted, console: { wait: READY } }
  - { name: move to h2, migrate: { host: h2 } }
  - { name: answers on h2, console: { exec: hello, expect: "/^unknown command/" } }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
      "onto-empty.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1 });
    assert.equal(journal.verdict, "pass", journal.reason);
    assert.deepEqual(statusOf(journal, "answers on h2"), { a1: "ok" });
  },
});
