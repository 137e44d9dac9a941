import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  AbortedError,
  ConnectionClosedError,
  ConsoleError,
  CorralError,
  Lab,
  launch,
  LaunchError,
  TimeoutError,
} from "../mod.ts";
import { qemuArgs } from "../lib/vm/machine.ts";
import { withImage } from "../lib/vm/spec.ts";
import { readUntil, rejectsWith, within } from "./_assert.ts";
import { spawnQemu } from "./_qemu.ts";
import { runtimeBase } from "../lib/_runtime_dir.ts";

/** The process state `ps` shows for `pid` (`S`, `T` stopped, `Z` zombie), or "" when it is gone. */
async function state(pid: number): Promise<string> {
  const { success, stdout } = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return success ? new TextDecoder().decode(stdout).trim() : "";
}

/** Whether `pid` is a live process (a zombie counts as gone); asks ps, as /proc needs --allow-all. */
async function alive(pid: number): Promise<boolean> {
  const now = await state(pid);
  return now !== "" && !now.startsWith("Z");
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("launch: QEMU's own message when it refuses to start", async () => {
  const error = await rejectsWith(
    launch({ name: "bad", args: ["-device", "no-such-device"] }),
    LaunchError,
    /vm 'bad': QEMU exited with code 1 while starting\nQEMU said:\n.*no-such-device/,
  );
  assert.equal(error.exitCode, 1);
  assert.ok(error.stderr.some((line) => line.includes("no-such-device")));
});

Deno.test("launch: a failed launch leaves no directory behind", async () => {
  const base = await runtimeBase();
  const mine = () => [...Deno.readDirSync(base)].filter((e) => e.name.startsWith("leftover-"));
  assert.deepEqual(mine(), []);
  await rejectsWith(launch({ name: "leftover", args: ["-device", "nope"] }), LaunchError);
  await rejectsWith(launch({ name: "leftover", guest: "builtin:nothing" }), LaunchError);
  assert.deepEqual(mine(), []);
});

Deno.test("launch: an invalid spec or a missing binary fails before anything starts", async () => {
  await rejectsWith(
    launch({ name: "has space", panic: "explode" as "pause", cpus: 0 }),
    LaunchError,
    /name "has space" must be .*; panic must be one of pause, shutdown, exit-failure, none, not "explode"; cpus must be/,
  );
  await rejectsWith(
    launch({ name: "nobin", qemu: "/nonexistent/qemu" }),
    LaunchError,
    /\/nonexistent\/qemu was not found: install QEMU/,
  );
});

Deno.test("launch: the command line keeps images read-only and sockets private", async () => {
  // A guest image is the backing file of an overlay, disk root, which the firmware boots.
  const image = "/img/disk,1.qcow2";
  const spec = withImage({ name: "a", guest: image, panic: "shutdown" }, image);
  assert.deepEqual(spec.disks, [{ name: "root", base: image }]);
  const args = qemuArgs(spec, "/run/x");
  assert.ok(!args.some((arg) => arg.includes("/img/disk")), "QEMU is never given the image");
  assert.ok(
    args.some((arg) => arg.startsWith("if=none,id=root,") && arg.includes("/run/x/disk0.qcow2")),
  );
  assert.ok(args.includes("virtio-blk-pci,drive=root,bootindex=0"));
  assert.ok(args.includes("panic=shutdown"));
  assert.ok(args.includes("unix:/run/x/qmp.sock,server=on,wait=off"));
  await using vm = await launch({ name: "private", guest: "none" });
  assert.equal((await Deno.stat(vm.dir!)).mode! & 0o777, 0o700);
  assert.equal((await Deno.stat(`${vm.dir}/..`)).mode! & 0o077, 0);
});

Deno.test("launch: 20 VMs boot to READY, and none is left afterwards", async () => {
  let leftovers: { pid: number; dir: string }[] = [];
  {
    await using lab = await Lab.launch(
      Array.from({ length: 20 }, (_, i) => ({ name: `lab${i + 1}`, groups: ["lab"] })),
    );
    const ready = await lab.select("lab").run((vm) => vm.console.waitFor("READY"));
    assert.ok(ready.ok, JSON.stringify(ready.failed));
    assert.equal(ready.results.length, 20);
    leftovers = lab.names.map((name) => ({ pid: lab.vm(name).pid!, dir: lab.vm(name).dir! }));
    for (const { pid, dir } of leftovers) {
      assert.ok(await alive(pid), `QEMU ${pid} should run`);
      assert.ok(exists(`${dir}/qmp.sock`), `${dir}/qmp.sock should exist`);
    }
  }
  for (const { pid, dir } of leftovers) {
    assert.ok(!await alive(pid), `QEMU ${pid} is still running`);
    assert.ok(!exists(dir), `${dir} is still there`);
  }
});

Deno.test("crash drill: NMI → GUEST_PANICKED → reset → READY, neighbours untouched", async () => {
  await using lab = await Lab.launch([{ name: "victim" }, { name: "n1" }, { name: "n2" }]);
  await lab.all().run((vm) => vm.console.waitFor("READY")).then((r) => r.orThrow());
  const victim = lab.vm("victim");
  await victim.injectNmi();
  const panic = await victim.waitFor("GUEST_PANICKED");
  assert.deepEqual(panic.data, { action: "pause" });
  assert.equal((await victim.status()).status, "guest-panicked");
  await victim.console.waitFor("PANIC: NMI");
  await victim.reset();
  await victim.console.waitFor("READY");
  assert.equal((await victim.status()).status, "running");
  const neighbours = await lab.select("n*").status();
  assert.deepEqual([...neighbours.values.values()].map((s) => s.status), ["running", "running"]);
  for (const name of ["n1", "n2"]) assert.deepEqual(lab.vm(name).history("GUEST_PANICKED"), []);
});

Deno.test("crash drill: a panic typed on the console, and crash-loaded", async () => {
  await using vm = await launch({ name: "typed" });
  await vm.console.waitFor("READY");
  await vm.console.send("crash\r");
  assert.deepEqual((await vm.waitFor("GUEST_CRASHLOADED")).data, { action: "run" });
  await vm.console.exec("panic");
  assert.deepEqual((await vm.waitFor("GUEST_PANICKED")).data, { action: "pause" });
});

for (const [panic, code] of [["shutdown", 0], ["exit-failure", 1]] as const) {
  Deno.test(`panic policy ${panic}: GUEST_PANICKED, SHUTDOWN, then closed; exit code ${code}`, async () => {
    await using vm = await launch({ name: `policy-${panic}`, panic });
    await vm.console.waitFor("READY");
    const later = vm.waitFor("POWERDOWN");
    await vm.injectNmi();
    assert.deepEqual((await vm.waitFor("GUEST_PANICKED")).data, { action: "poweroff" });
    assert.deepEqual((await vm.waitFor("SHUTDOWN")).data, { guest: true, reason: "guest-panic" });
    await rejectsWith(later, ConnectionClosedError, new RegExp(`vm 'policy-${panic}'`));
    await rejectsWith(vm.console.waitFor("never"), ConnectionClosedError, /console closed/);
    assert.equal((await vm.waitExit()).code, code);
    assert.equal(await vm.liveness(), "dead");
  });
}

Deno.test("setPanicAction: policy none keeps the guest running through a panic", async () => {
  await using vm = await launch({ name: "tough" });
  await vm.console.waitFor("READY");
  await vm.setPanicAction("none");
  await vm.injectNmi();
  assert.deepEqual((await vm.waitFor("GUEST_PANICKED")).data, { action: "run" });
  assert.equal((await vm.status()).status, "running");
});

Deno.test("console: failOn fails the wait at once; a timeout shows the last line", async () => {
  await using vm = await launch({ name: "con" });
  await vm.console.waitFor("READY");
  await vm.console.send("bogus\r");
  const failed = await rejectsWith(
    vm.console.waitFor("READY", { failOn: [/^unknown command/], timeout: 30_000 }),
    ConsoleError,
    /vm 'con': the console printed "unknown command; try panic.*", which matches failOn/,
  );
  assert.match(failed.line, /^unknown command/);
  await rejectsWith(
    vm.console.waitFor("never printed", { timeout: 100 }),
    TimeoutError,
    /no console line matching "never printed" within 100 ms; last console line: "unknown command/,
  );
  assert.match(await Deno.readTextFile(`${vm.dir}/console.log`), /READY\r\n.*bogus/s);
});

Deno.test("relaunch: after a power cut the same VM boots again; the journal carries on", async () => {
  await using vm = await launch({ name: "phoenix" });
  await vm.console.waitFor("READY");
  const firstPid = vm.pid!;
  Deno.kill(firstPid, "SIGSTOP"); // so that the command below is still pending at the kill
  const pending = rejectsWith(
    vm.execute("query-status", undefined, { timeout: 30_000 }),
    ConnectionClosedError,
    /vm 'phoenix'/,
  );
  const status = await vm.kill();
  assert.equal(status.signal, "SIGKILL");
  await pending;
  assert.equal(await vm.liveness(), "dead");
  const before = vm.mark();
  await vm.relaunch();
  assert.notEqual(vm.pid, firstPid);
  assert.ok(!await alive(firstPid));
  await vm.console.waitFor("READY");
  await vm.pause();
  assert.equal((await vm.waitFor("STOP")).seq, before + 2, "RESUME from the relaunch, then STOP");
  await rejectsWith(vm.relaunch(), CorralError, /still running/);
});

Deno.test("liveness: a SIGSTOPped VM is wedged while its neighbours are healthy", async () => {
  await using lab = await Lab.launch([
    { name: "frozen", guest: "none" },
    { name: "ok1", guest: "none" },
    { name: "ok2", guest: "none" },
  ]);
  const frozen = lab.vm("frozen");
  Deno.kill(frozen.pid!, "SIGSTOP");
  try {
    // A stop signal takes effect as each of QEMU's threads next runs: probe once it has.
    await within(
      until(async () => (await state(frozen.pid!)).startsWith("T")),
      10_000,
      "QEMU stopped",
    );
    const health = await lab.all().liveness({ timeout: 2000 });
    assert.deepEqual(Object.fromEntries(health.values), {
      frozen: "wedged",
      ok1: "healthy",
      ok2: "healthy",
    });
    // A fleet call: the frozen VM times out, the others finish.
    const paused = await lab.all().pause({ timeout: 3000 });
    assert.deepEqual(paused.results.map((r) => [r.vm, r.status]), [
      ["frozen", "timeout"],
      ["ok1", "ok"],
      ["ok2", "ok"],
    ]);
    assert.throws(() => paused.orThrow(), /1 of 3 VM\(s\) failed:\n {2}frozen: /);
  } finally {
    Deno.kill(frozen.pid!, "SIGCONT");
  }
  await frozen.kill();
  assert.equal((await lab.all().liveness()).values.get("frozen"), "dead");
});

Deno.test("lab: attaches a QEMU it did not start, and leaves it running", async () => {
  await using outside = await spawnQemu({ name: "outside" });
  {
    await using lab = await Lab.launch([{ name: "mine", guest: "none", groups: ["launched"] }]);
    await lab.attach("theirs", outside.address, { groups: ["attached"] });
    assert.deepEqual(lab.select("all:!launched").names, ["theirs"]);
    assert.ok((await lab.all().pause()).ok);
    assert.throws(() => lab.select("thiers"), /did you mean "theirs"\?/);
    await rejectsWith(lab.vm("theirs").relaunch(), CorralError, /corral did not launch this VM/);
  }
  let exited = false;
  outside.status.then(() => exited = true);
  await Promise.resolve();
  assert.equal(exited, false);
  await using again = await (await import("../mod.ts")).Vm.connect(outside.address);
  assert.equal((await again.status()).status, "paused");
});

const fixture = fileURLToPath(new URL("./fixtures/launch_and_wait.ts", import.meta.url));

for (const how of ["SIGINT", "SIGTERM", "exit", "throw"] as const) {
  Deno.test(`exit cleanup: no QEMU outlives a parent that ${how.startsWith("SIG") ? `gets ${how}` : how}s`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", fixture, how.startsWith("SIG") ? "wait" : how],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const text = await readUntil(reader, "\n", 30_000, "the parent's report");
    const launched: { pid: number; dir: string }[] = JSON.parse(text);
    assert.equal(launched.length, 2);
    if (how.startsWith("SIG")) child.kill(how as Deno.Signal);
    const status = await within(child.status, 30_000, "the parent to exit");
    await reader.cancel();
    if (how === "SIGINT") assert.equal(status.code, 130);
    if (how === "SIGTERM") assert.equal(status.code, 143);
    if (how === "throw") assert.equal(status.code, 1);
    for (const { pid, dir } of launched) {
      // SIGKILLed QEMUs vanish once the kernel reaps them: wait for that, with a deadline.
      await within(until(async () => !await alive(pid)), 10_000, `QEMU ${pid} to go`);
      assert.ok(!exists(dir), `${dir} is still there`);
    }
  });
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!await condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.test("console: exec waits for the echo or for `expect`; lines() streams what follows", async () => {
  await using vm = await launch({ name: "talk" });
  await vm.console.waitFor("READY");
  assert.equal((await vm.console.exec("hello")).text, "hello");
  await vm.console.waitFor(/^unknown command/); // the rest of hello's answer
  const reader = vm.console.lines({ since: vm.console.cursor() });
  const reply = await vm.console.exec("again", { expect: /^unknown command/ });
  assert.match(reply.text, /try panic, crash, reboot, poweroff/);
  assert.deepEqual(
    [(await reader.next()).value?.text, (await reader.next()).value?.text],
    ["again", reply.text],
  );
  await reader.return();
});

Deno.test("shutdown: the power button and grace first, then quit; the VM can start again", async () => {
  await using vm = await launch({ name: "polite" });
  await vm.console.waitFor("READY");
  // builtin:tiny ignores the ACPI power button, so the grace runs out and quit follows.
  const status = await vm.shutdown({ grace: 200 });
  assert.equal(status?.code, 0);
  assert.deepEqual(vm.history(["POWERDOWN", "SHUTDOWN"]).map((e) => e.event), [
    "POWERDOWN",
    "SHUTDOWN",
  ]);
  assert.deepEqual(vm.history("SHUTDOWN")[0]!.data, { guest: false, reason: "host-qmp-quit" });
  assert.equal(await vm.liveness(), "dead");
  await vm.relaunch();
  await vm.console.waitFor("READY");
  assert.equal(await vm.liveness(), "healthy");
});

Deno.test("console: prompt waits match the line being printed before its end of line", async () => {
  await using vm = await launch({ name: "prompt" });
  await vm.console.waitFor("READY");
  // builtin:tiny echoes what it gets: "user: " stays on the screen without a line end, like a prompt.
  await vm.console.send("user: ");
  await rejectsWith(vm.console.waitFor("user:", { timeout: 200 }), TimeoutError);
  assert.equal((await vm.console.waitFor("user:", { prompt: true })).text, "user: ");
  await vm.console.send("\r");
  assert.equal((await vm.console.waitFor("user:")).text, "user: ");
});

Deno.test("launch: a disk image guest boots through the firmware from an overlay; the original is never written", async () => {
  const { TINY_IMAGE } = await import("../lib/vm/guest/_tiny_image.ts");
  const dir = await Deno.makeTempDir({ prefix: "corral-image-" });
  const image = `${dir}/disk,with,commas.img`;
  // A disk of a cylinder at least (SeaBIOS reads none from a smaller virtio disk).
  const disk = new Uint8Array(1024 * 1024);
  disk.set(TINY_IMAGE);
  await Deno.writeFile(image, disk);
  const before = (await Deno.stat(image)).mtime;
  try {
    await using vm = await launch({ name: "from-disk", guest: image });
    await vm.console.waitFor("READY");
    await vm.console.send("reboot\r");
    await vm.console.waitFor("READY", { since: vm.console.cursor() });
    assert.deepEqual(await Deno.readFile(image), disk);
    assert.deepEqual((await Deno.stat(image)).mtime, before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lab: shutdown honours grace (the power button first)", async () => {
  const lab = await Lab.launch([{ name: "graceful" }]);
  const vm = lab.vm("graceful");
  await vm.console.waitFor("READY");
  await lab.shutdown({ grace: 500 });
  assert.equal(vm.history("POWERDOWN").length, 1, "no POWERDOWN: grace was ignored");
});

Deno.test("fleet: aborting its signal settles every VM at once, whatever the action does", async () => {
  await using lab = await Lab.launch([
    { name: "f1", guest: "none" },
    { name: "f2", guest: "none" },
  ]);
  const controller = new AbortController();
  // Actions that ignore the signal, as kill, shutdown and liveness do.
  const pending = lab.all().run(() => new Promise<void>(() => {}), { signal: controller.signal });
  await lab.vm("f1").status(); // a round trip: the actions are under way
  controller.abort(new Error("enough"));
  const results = await within(pending, 5000, "the aborted fleet call");
  assert.deepEqual(results.results.map((r) => [r.vm, r.status]), [["f1", "error"], [
    "f2",
    "error",
  ]]);
  for (const result of results.failed) {
    assert.ok("error" in result && result.error instanceof AbortedError);
    assert.match(result.error.message, /^vm 'f\d': aborted: enough$/);
  }
});

Deno.test("waits honour deadlines past the timer range instead of firing at once", async () => {
  await using vm = await launch({ name: "patient", guest: "none" });
  const controller = new AbortController();
  let settled = false;
  const wait = vm.waitFor("GUEST_PANICKED", { timeout: 2 ** 31 + 1000, signal: controller.signal })
    .finally(() => settled = true);
  wait.catch(() => {});
  await vm.status();
  await vm.status(); // two round trips: a timer that fires at once would have fired by now
  assert.equal(settled, false);
  controller.abort(new Error("done"));
  await rejectsWith(wait, Error, /done/);
});

Deno.test("launch: a QEMU that greets and never answers qmp_capabilities is started once more", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-stall-" });
  const env = {
    CORRAL_STALL_MARK: `${dir}/stalled`,
    CORRAL_DENO: Deno.execPath(),
    CORRAL_REAL_QEMU: Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64",
  };
  for (const [key, value] of Object.entries(env)) Deno.env.set(key, value);
  try {
    const stand_in = new URL("./fixtures/stall_once.sh", import.meta.url).pathname;
    await using vm = await launch({ name: "stall", guest: "none", qemu: stand_in }, {
      negotiationTimeout: 500,
    });
    assert.ok(await Deno.stat(`${dir}/stalled`).then(() => true, () => false), "it stalled first");
    assert.equal((await vm.status()).status, "running");
    assert.equal(vm.qemuVersion.package === "stall", false, "the second start is the real QEMU");
  } finally {
    for (const key of Object.keys(env)) Deno.env.delete(key);
    await Deno.remove(dir, { recursive: true });
  }
});
