/**
 * The real Linux guest (issue 13): builtin:linux built from Debian packages,
 * its guest agent (exec, files, freeze and thaw, stale output, reconnects),
 * the power button, an NMI panic, and the shipped Linux crash drill. One
 * VM is shared by the steps: a boot costs seconds under TCG.
 */

import assert from "node:assert/strict";
import { AgentError, launch, TimeoutError } from "../mod.ts";
import { qemuArgs } from "../lib/vm/machine.ts";
import { LINUX_READY } from "../lib/vm/guest/linux.ts";
import { rejectsWith } from "./_assert.ts";
import { corral, recipeFile } from "./_cli.ts";

Deno.test("linux: builtin:linux boots to its agent; exec, files, freeze, stale output, reconnects, power button, NMI", async (t) => {
  await using vm = await launch({ name: "lx", guest: "builtin:linux" }, { timeout: 120_000 });
  await vm.console.waitFor(LINUX_READY, { timeout: 120_000 });
  await vm.agent.waitReady();

  await t.step("exec: exit code, output, input and environment", async () => {
    const result = await vm.agent.exec('read x; echo "got $x $GREETING"; echo oops >&2; exit 3', {
      input: "hello\n",
      env: { GREETING: "hi" },
    });
    assert.deepEqual(result, { exitCode: 3, stdout: "got hello hi\n", stderr: "oops\n" });
    assert.match((await vm.agent.exec("uname -r")).stdout, /cloud-amd64/);
  });

  await t.step("files: write then read back", async () => {
    const text = "line one\nünïcödé ✓\n" + "x".repeat(100_000);
    await vm.agent.writeFile("/tmp/corral.txt", text);
    assert.equal(await vm.agent.readFile("/tmp/corral.txt"), text);
  });

  await t.step("freeze: withFrozen always thaws, also when the work fails", async () => {
    await assert.rejects(
      vm.agent.withFrozen(() => Promise.reject(new Error("the work failed"))),
      /the work failed/,
    );
    assert.equal(await vm.agent.execute("guest-fsfreeze-status"), "thawed");
  });

  await t.step(
    "a timed-out command leaves its answer in the channel; the next call syncs past it",
    async () => {
      // A paused guest cannot answer: the call times out, and the answer comes once it runs again.
      await vm.pause();
      await rejectsWith(vm.agent.execute("guest-info", undefined, { timeout: 200 }), TimeoutError);
      await vm.resume();
      // The late answer (guest-info's) must not be taken for this one's.
      assert.deepEqual(await vm.agent.execute("guest-ping"), {});
      assert.equal((await vm.agent.exec("echo fine")).stdout, "fine\n");
    },
  );

  await t.step(
    "a connection cut in the middle of a command: the next call connects again",
    async () => {
      const pending = vm.agent.exec("sleep 2; echo late", { timeout: 30_000 });
      vm.agent.close();
      await rejectsWith(pending, AgentError, /vm 'lx': the guest agent went away/);
      assert.equal((await vm.agent.exec("echo again")).stdout, "again\n");
    },
  );

  await t.step("interfaces list the loopback", async () => {
    const interfaces = await vm.agent.interfaces();
    assert.ok(interfaces.some((i) => i.name === "lo" && i.addresses.includes("127.0.0.1/8")));
  });

  await t.step(
    "an NMI panics the kernel (unknown_nmi_panic); reset brings the agent back",
    async () => {
      await vm.injectNmi();
      assert.deepEqual((await vm.waitFor("GUEST_PANICKED", { timeout: 30_000 })).data, {
        action: "pause",
      });
      await vm.reset();
      await vm.agent.waitReady({ timeout: 120_000 });
    },
  );

  await t.step("the ACPI power button powers the guest off", async () => {
    const down = vm.waitFor("SHUTDOWN", { timeout: 60_000 });
    await vm.powerdown();
    assert.deepEqual((await down).data, { guest: true, reason: "guest-shutdown" });
    assert.equal((await vm.waitExit({ timeout: 30_000 })).code, 0);
  });
});

Deno.test("linux: the shipped linux-crash-drill recipe passes", async () => {
  const result = await corral(["run", "recipes/linux-crash-drill.yaml", "--seed", "3"]);
  assert.equal(result.code, 0, result.out + result.err);
  assert.match(
    result.out,
    /metric recovery: db1 [\d.]+ (ms|s) \(max 2 min: ok\)|metric recovery: db1 [\d.]+ (ms|s) \(max 120 s: ok\)/,
  );
  assert.equal(result.qemuStarts.length, 3);
});

Deno.test("linux: two VMs talk over a lab network, a third on another network cannot; the network goes at the end", async () => {
  // lan is corral's switch (the default), other the kernel's bridge in a namespace (root).
  const file = await recipeFile(
    "recipe: 1\nname: net\nnetworks:\n  lan: {}\n  other: { subnet: 10.45.0.0/24, via: bridge }\n" +
      "vms:\n  defaults: { guest: builtin:linux }\n  a: { networks: [lan] }\n  b: { networks: [lan] }\n" +
      "  c: { networks: [other] }\nsteps:\n" +
      '  - { name: booted, console: { wait: "corral-linux: ready" }, timeout: 120s }\n' +
      '  - { name: a reaches b, on: a, agent: { exec: "ping -c 1 -W 5 ${{ vms.b.address.lan }}" } }\n' +
      '  - { name: c cannot reach a, on: c, agent: { exec: "ping -c 1 -W 1 ${{ vms.a.address.lan }}", exit-code: 1 } }\n' +
      '  - { name: c has its own address, on: c, agent: { exec: "ip -4 addr show eth0", expect: "10.45.0.2/24" } }\n',
  );
  try {
    const plan = await corral(["plan", file]);
    assert.match(plan.out, /a {12}launch builtin:linux, tcg, panic pause, on lan 10\.44\.0\.2\/24/);
    assert.match(
      plan.out,
      /c {12}launch builtin:linux, tcg, panic pause, on other 10\.45\.0\.2\/24/,
    );
    const run = await corral(["run", file]);
    assert.equal(run.code, 0, run.out + run.err);
    const namespaces = new TextDecoder().decode(
      (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output()).stdout,
    );
    assert.ok(!/^corral-/m.test(namespaces), `a lab network namespace is left: ${namespaces}`);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("linux: disks are qcow2 overlays of a base that is never written, or blank; a kernel of one's own gets Linux memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-disks-" });
  try {
    const base = `${dir}/base.raw`;
    await Deno.writeFile(base, new Uint8Array(1024 * 1024).fill(0x41)); // 1 MiB of "A"
    const before = await Deno.readFile(base);
    await using vm = await launch(
      { name: "disks", guest: "builtin:linux", disks: [{ base }, { size: "8M" }] },
      { timeout: 120_000 },
    );
    await vm.agent.waitReady({ timeout: 120_000 });
    assert.equal((await vm.agent.exec("head -c 4 /dev/vda")).stdout, "AAAA");
    await vm.agent.exec("printf BBBB | dd of=/dev/vda conv=notrunc 2>/dev/null; sync");
    assert.equal((await vm.agent.exec("head -c 4 /dev/vda")).stdout, "BBBB");
    assert.equal((await vm.agent.exec("cat /sys/block/vdb/size")).stdout.trim(), String(8 * 2048));
    assert.deepEqual(await Deno.readFile(base), before, "the base image was written");
    const args = qemuArgs({ name: "own", kernel: "/boot/vmlinuz" }, "/run/own");
    assert.deepEqual(args.slice(args.indexOf("-m"), args.indexOf("-m") + 2), ["-m", "256M"]);
    assert.ok(
      !args.some((a) => a.includes("tiny.img")),
      "no tiny boot sector with a kernel of one's own",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("linux: console exec waits for an echo busybox wraps at 80 columns, then for expect", async () => {
  await using vm = await launch({ name: "wrap", guest: "builtin:linux" }, { timeout: 120_000 });
  await vm.console.waitFor(LINUX_READY, { timeout: 120_000 });
  const long = `echo ${"abcdefghij".repeat(12)} THE-END`;
  const echo = await vm.console.exec(long, { timeout: 30_000 });
  assert.match(echo.text, /THE-END$/);
  const answer = await vm.console.exec(`${long} | wc -c`, { expect: /^\d+$/, timeout: 30_000 });
  assert.equal(answer.text, "129");
});
