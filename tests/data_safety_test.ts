/**
 * Issue 20's data-safety rows on the tiny guest: what the guest wrote and
 * its snapshots move with it, a move honours its deadline and signal from
 * start to end, and a failed migration says what is true of the source.
 * The same on a real ext4 file system is in data_safety_linux_test.ts.
 */

import assert from "node:assert/strict";
import { launch, MigrationError, parseRecipe, runRecipe, type Vm } from "../mod.ts";
import { fakeAgent } from "./_fake_agent.ts";
import { rejectsWith } from "./_assert.ts";
import { QEMU_BINARY } from "./_qemu.ts";

/**
 * Bytes of a running VM's first disk, as the image file holds them (QEMU
 * flushes first; qemu-img reads beside it with -U).
 */
async function diskBytes(
  vm: Vm,
  offset: number,
  length: number,
  device = "disk0",
): Promise<Uint8Array> {
  await vm.hmp(`qemu-io ${device} "flush"`);
  const raw = await Deno.makeTempFile({ prefix: "corral-disk-" });
  try {
    const convert = await new Deno.Command("qemu-img", {
      args: ["convert", "-U", "-O", "raw", `${vm.dir}/disk0.qcow2`, raw],
      stderr: "piped",
    }).output();
    assert.ok(convert.success, new TextDecoder().decode(convert.stderr));
    return (await Deno.readFile(raw)).subarray(offset, offset + length);
  } finally {
    await Deno.remove(raw);
  }
}

/** Bytes as runs, `ab×65536 00×65536`: short to compare and to print when they differ. */
function runs(bytes: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < bytes.length;) {
    let j = i;
    while (j < bytes.length && bytes[j] === bytes[i]) j++;
    out.push(`${bytes[i]!.toString(16).padStart(2, "0")}×${j - i}`);
    i = j;
    if (out.length > 8) return `${out.join(" ")} …`;
  }
  return out.join(" ");
}

Deno.test("vm.migrate: the disk goes along: what was written before reads back after, and the snapshot saved before loads", async () => {
  await using vm = await launch({ name: "mover-disk", disks: [{ size: "8M" }] });
  await vm.console.waitFor("READY");
  const io = (command: string) => vm.hmp(`qemu-io disk0 "${command}"`);
  await io("write -P 0xab 0 64k");
  assert.equal(runs(await diskBytes(vm, 0, 65536)), "ab×65536");
  await vm.saveSnapshot("before", { freeze: false });
  const moved = await vm.migrate();
  assert.equal(moved.to, "mover-disk-m1");
  assert.equal(runs(await diskBytes(vm, 0, 65536)), "ab×65536");
  // Written after the move, on the same file: a second move keeps it too.
  await io("write -P 0xcd 64k 64k");
  await vm.migrate();
  assert.equal(vm.instance, "mover-disk-m2");
  assert.equal(runs(await diskBytes(vm, 65536, 65536)), "cd×65536");
  await vm.loadSnapshot("before", { freeze: false }); // "does not exist" when the disk was new
  assert.equal(runs(await diskBytes(vm, 0, 131072)), "ab×65536 00×65536"); // rolled back
});

Deno.test("vm.migrate: a guest image runs on an overlay (disk root): what was written moves, the image is never written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-img-" });
  try {
    await Deno.writeFile(`${dir}/guest.img`, new Uint8Array(1024 * 1024).fill(0x11));
    await using vm = await launch({ name: "img-guest", guest: `${dir}/guest.img` });
    await vm.hmp('qemu-io root "write -P 0x22 0 64k"');
    await vm.migrate();
    assert.equal(vm.instance, "img-guest-m1");
    assert.equal(runs(await diskBytes(vm, 0, 131072, "root")), "22×65536 11×65536");
    const image = await Deno.readFile(`${dir}/guest.img`);
    assert.ok(image.every((b) => b === 0x11), "the image itself was written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A QEMU wrapper whose migration destinations (`-incoming`) wait for a file
 * `go` before they start: a destination slow to start, on demand. Each
 * waiting wrapper writes its pid to `waiting`, then opens the fifo
 * `started` (which blocks until the test reads it, if it does).
 */
async function slowDestinations(): Promise<{ qemu: string; dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "corral-slow-" });
  const qemu = `${dir}/qemu`;
  const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/started`] }).output();
  assert.ok(mkfifo.success, "mkfifo");
  await Deno.writeTextFile(
    qemu,
    `#!/bin/sh
case " $* " in *" -incoming "*)
  echo $$ > '${dir}/waiting'
  echo > '${dir}/started'
  while [ ! -e '${dir}/go' ]; do sleep 0.05; done ;;
esac
exec '${QEMU_BINARY}' "$@"
`,
    { mode: 0o755 },
  );
  return {
    qemu,
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.writeTextFile(`${dir}/go`, "");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("vm.migrate: a destination slow to start past the deadline is stopped; the VM never moves later", async () => {
  await using slow = await slowDestinations();
  await using vm = await launch({ name: "slow-dst", qemu: slow.qemu });
  await vm.console.waitFor("READY");
  const pid = vm.pid;
  await rejectsWith(
    vm.migrate({ timeout: 1000 }),
    MigrationError,
    /the destination slow-dst-m1 was not started: the migration did not complete within 1 s; the VM runs on/,
  );
  // The waiting destination was stopped before the call rejected: releasing it starts nothing.
  const waiting = Number(await Deno.readTextFile(`${slow.dir}/waiting`));
  assert.equal(alive(waiting), false);
  await Deno.writeTextFile(`${slow.dir}/go`, "");
  assert.equal(vm.pid, pid);
  assert.equal(vm.instance, "slow-dst");
  assert.equal((await vm.status()).status, "running");
});

Deno.test("vm.migrate: a signal aborts the move; the VM runs on where it was", async () => {
  await using slow = await slowDestinations();
  await using vm = await launch({ name: "abort-dst", qemu: slow.qemu });
  const controller = new AbortController();
  const moving = vm.migrate({ signal: controller.signal });
  // Abort once the destination is waiting to start.
  await Deno.readTextFile(`${slow.dir}/started`);
  controller.abort(new Error("Ctrl-C"));
  await rejectsWith(
    moving,
    MigrationError,
    /was not started: the migration was interrupted \(Ctrl-C\)/,
  );
  assert.equal(vm.instance, "abort-dst");
  assert.equal((await vm.status()).running, true);
});

Deno.test("snapshot step: a freeze that outlasts the step's deadline is followed by a thaw before the run ends", async () => {
  // A guest whose freeze takes longer than the step allows, then completes (as a real one can).
  let release: ReturnType<typeof setTimeout> | undefined;
  await using agent = await fakeAgent((command) =>
    command === "guest-fsfreeze-freeze"
      ? {
        hold: new Promise((resolve) => release = setTimeout(() => resolve({ return: 1 }), 2500)),
      }
      : command === "guest-fsfreeze-thaw"
      ? { return: 1 }
      : undefined
  );
  await using vm = await launch({ name: "frozen", disks: [{ size: "8M" }] });
  await vm.close(); // the recipe attaches to its monitor
  const recipe = parseRecipe(
    `recipe: 1\nname: frozen\nvms:\n  db: { attach: "unix:${vm.dir}/qmp.sock", agent: "${agent.address}" }\n` +
      "steps:\n  - { name: snap, snapshot: { save: s1, freeze: auto }, timeout: 1s }\n",
    "frozen.yaml",
  );
  try {
    const result = await runRecipe(recipe, {});
    const step = result.journal.steps.find((s) => s.name === "snap")!;
    assert.notEqual(step.targets[0]!.status, "ok");
    // Sent before the run ended, after the freeze.
    const freeze = agent.commands.indexOf("guest-fsfreeze-freeze");
    assert.ok(freeze >= 0, agent.commands.join(", "));
    assert.ok(
      agent.commands.indexOf("guest-fsfreeze-thaw", freeze) > freeze,
      agent.commands.join(", "),
    );
  } finally {
    clearTimeout(release);
  }
});
