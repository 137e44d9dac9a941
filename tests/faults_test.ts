/**
 * Faults on real Linux guests (issue 22): each seen from inside the guest
 * while it is active, and gone after it heals — by `heal`, by `duration`,
 * at the end of its block, before `finally`, or on Ctrl-C.
 */

import assert from "node:assert/strict";
import { parseRecipe, planRecipe, type RunJournal, runRecipe } from "../mod.ts";

const LAB = `recipe: 1
name: faults
networks: { lan: { capture: true } }
vms:
  defaults: { guest: builtin:linux, networks: [lan] }
  a: {}
  b: {}
  c: {}
defaults: { timeout: 60s }
`;
const PING = (vm: string, extra = "") => `ping -c 1 -W 2 ${extra}\${{ vms.${vm}.address.lan }}`;

/** Every step's outcome by name, `name: status,status` in VM order. */
function outcomes(journal: RunJournal): Record<string, string> {
  return Object.fromEntries(
    journal.steps.map((s) => [s.name, s.targets.map((t) => t.status).join(",")]),
  );
}

function outputOf(journal: RunJournal, step: string): Record<string, unknown> {
  return journal.steps.find((s) => s.name === step)!.targets[0]!.output as Record<string, unknown>;
}

Deno.test("faults: partition, netem, link and clock, seen from inside the guests and healed; DHCP gives a guest its lab address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-faults-" });
  try {
    const recipe = parseRecipe(
      LAB + `steps:
  - { name: up, wait-agent: {}, timeout: 180s }
  - { name: a reaches b, on: a, agent: { exec: "${PING("b")}" } }
  - { name: cut b from a, id: cut, on: b, partition: { from: a } }
  - { name: a cannot reach b, on: a, agent: { exec: "${PING("b")}", exit-code: 1 } }
  - { name: a still reaches c, on: a, agent: { exec: "${PING("c")}" } }
  - { name: heal the cut, on: b, heal: { step: cut } }
  - { name: a reaches b again, on: a, agent: { exec: "${PING("b")}" } }
  - { name: slow b, on: b, netem: { delay: 300ms } }
  - name: a sees b's delay
    on: a
    agent:
      exec: "${PING("b")} | grep -o 'time=[0-9.]*' | cut -d= -f2"
  - { name: b loses all, id: lossy, on: b, netem: { loss: 100% } }
  - { name: a gets nothing back, on: a, agent: { exec: "${PING("b")}", exit-code: 1 } }
  - { name: heal b, on: b, heal: all }
  - { name: b's cable out, on: b, link: down, duration: 1s }
  - { name: a sees b go, on: a, agent: { exec: "${PING("b")}", exit-code: 1 } }
  - name: and come back
    on: a
    agent: { exec: "for i in 1 2 3 4 5 6 7 8 9 10; do ${PING("b")} && exit 0; done; exit 1" }
  - name: c asks DHCP
    on: c
    agent: { exec: "udhcpc -i eth0 -n -q -f -s /bin/true 2>&1 | grep -q 'lease of \${{ vms.c.address.lan }} obtained from 10.44.0.1'" }
  - { name: c jumps ahead, on: c, clock: { offset: "+2h" } }
  - { name: c's time, on: c, agent: { exec: "date +%s" } }
finally:
  - { name: c's time after, on: c, agent: { exec: "date +%s" } }
`,
      "faults.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1, reportDir: dir, force: true });
    const done = outcomes(journal);
    for (
      const step of [
        "a reaches b",
        "a cannot reach b",
        "a still reaches c",
        "a reaches b again",
        "a sees b's delay",
        "a gets nothing back",
        "a sees b go",
        "and come back",
        "c's time",
        "c's time after",
        "c asks DHCP",
      ]
    ) assert.equal(done[step], "ok", `${step}: ${JSON.stringify(journal.steps, null, 1)}`);
    const rtt = Number((outputOf(journal, "a sees b's delay").stdout as string).trim());
    assert.ok(rtt >= 290, `the round trip with a 300 ms delay was ${rtt} ms`);
    // The heals: by heal (cut, then the netem steps), by duration (the cable), before finally (clock).
    const undos = journal.steps.filter((s) => s.name.startsWith("undo ")).map((s) => s.name);
    assert.deepEqual(undos, [
      "undo cut b from a",
      "undo b loses all",
      "undo slow b",
      "undo b's cable out",
      "undo c jumps ahead",
    ]);
    const host = Date.now() / 1000;
    const jumped = Number((outputOf(journal, "c's time").stdout as string).trim());
    const after = Number((outputOf(journal, "c's time after").stdout as string).trim());
    assert.ok(jumped > host + 2 * 3600 - 600, `the guest read ${jumped}, the host ${host}`);
    assert.ok(Math.abs(after - host) < 600, `after the heal the guest read ${after}`);
    assert.equal(journal.verdict, "pass", journal.reason);
    const pcap = await Deno.readFile(`${dir}/lan.pcap`);
    assert.equal(new DataView(pcap.buffer).getUint32(0, true), 0xa1b2c3d4);
    assert.ok(pcap.length > 24 + 10 * 16, "the capture has the lab's frames");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("faults: a stalled QEMU does not answer until healed; Ctrl-C during a partition heals it before finally", async () => {
  const recipe = parseRecipe(
    LAB + `steps:
  - { name: up, wait-agent: {}, timeout: 180s }
  - { name: stall c, on: c, stall: {}, duration: 2s }
  - { name: c is silent, on: c, qmp: { execute: query-status }, timeout: 1s, continue-on-error: true }
  - { name: c answers again, on: c, wait-status: { status: running }, timeout: 30s }
  - { name: cut, on: b, partition: {} }
  - { name: waiting, on: a, wait-event: { event: NEVER_SENT, timeout: 10m }, timeout: 10m }
finally:
  - { name: a reaches b after all, on: a, agent: { exec: "${PING("b")}" } }
`,
    "stall.yaml",
  );
  const stop = new AbortController();
  const { journal } = await runRecipe(recipe, {
    seed: 1,
    signal: stop.signal,
    listeners: [(event) => {
      if (event.type === "step-start" && event.step === "waiting") stop.abort();
    }],
  });
  const done = outcomes(journal);
  assert.equal(done["c is silent"], "timeout");
  assert.equal(done["undo stall c"], "ok");
  assert.equal(done["c answers again"], "ok");
  assert.equal(done["undo cut"], "ok");
  assert.equal(done["a reaches b after all"], "ok");
  const order = journal.steps.map((s) => s.name);
  assert.ok(order.indexOf("undo cut") < order.indexOf("a reaches b after all"));
  assert.equal(journal.verdict, "error"); // interrupted
});

Deno.test("faults: check rejects a fault a VM cannot take, at its line", () => {
  const head = `recipe: 1
name: unfit
networks: { lan: {}, kernel: { via: bridge } }
vms:
  a: { networks: [lan] }
  k: { networks: [kernel] }
  n: {}
steps:
`;
  assert.throws(
    () =>
      parseRecipe(
        head + "  - { name: wrong, on: a, sleep: 1s, duration: 2s }\n" +
          "  - { name: heal nothing, on: a, heal: { step: nope } }\n",
        "unfit.yaml",
      ),
    (error: Error) => {
      assert.deepEqual(error.message.split("\n"), [
        "unfit.yaml:9:38: duration goes with a fault (an action that heals by itself), not sleep",
        "unfit.yaml:10:5: step 'heal nothing': heal names no fault step with id 'nope'",
      ]);
      return true;
    },
  );
  const recipe = parseRecipe(
    head + "  - { name: cut, on: k, partition: {} }\n" +
      "  - { name: slow, on: n, netem: { delay: 10ms, network: lan } }\n",
    "unfit.yaml",
  );
  assert.throws(
    () => planRecipe(recipe, 1),
    (error: Error) => {
      assert.deepEqual(error.message.split("\n"), [
        "unfit.yaml:9:5: step 'cut': partition cannot run on k: its networks are kernel bridges (via: bridge), which corral cannot fault: leave via out",
        "unfit.yaml:10:5: step 'slow': netem cannot run on n: it is on no lab network (give it networks: [NAME])",
      ]);
      return true;
    },
  );
});

Deno.test("faults: invariants are checked against every event, the console watch against every line, outside faults or not", async () => {
  const recipe = parseRecipe(
    `recipe: 1
name: blast radius
vms: { a: {}, b: {}, c: {} }
invariants:
  - { never: [GUEST_PANICKED], on: a }
  - { never: [GUEST_PANICKED, RESET], on: [b, c], outside: faults }
watch:
  console: { fail: [READY], outside: faults }
steps:
  - { name: up, console: { wait: READY } }
  - { name: crash a, on: a, nmi: {} }
  - { name: a panicked, on: a, wait-event: { event: GUEST_PANICKED } }
  - { name: crash c, on: c, nmi: {} }
  - { name: c panicked, on: c, wait-event: { event: GUEST_PANICKED } }
`,
    "blast.yaml",
  );
  const { journal } = await runRecipe(recipe, { seed: 1 });
  // a's panic breaks the rule that holds on a whatever happens; c's is a fault's (outside: faults).
  // Only b, which no step touched, printing READY breaks the console watch.
  assert.deepEqual(journal.violations?.map((v) => [v.rule, v.vm, v.what.split(" ")[0]]), [
    ["never GUEST_PANICKED", "a", "GUEST_PANICKED"],
    ["console", "b", "READY"],
  ]);
  assert.ok(journal.violations![0]!.ms! > 0);
  assert.equal(journal.verdict, "fail");
  assert.match(
    journal.reason,
    /^2 invariant violation\(s\): never GUEST_PANICKED on a at [\d.]+ s: GUEST_PANICKED/,
  );
});

Deno.test("faults: disk-throttle slows a disk until healed (QEMU's own throttle settings, before and after)", async () => {
  const recipe = parseRecipe(
    `recipe: 1
name: slow disk
vms: { a: { disks: [{ size: 8M }] }, b: {} }
steps:
  - { name: slow, id: slow, on: a, disk-throttle: { iops: 20, bps: 1M } }
  - { name: while slow, on: a, qmp: { execute: query-block } }
  - { name: heal, on: a, heal: { step: slow } }
  - { name: after, on: a, qmp: { execute: query-block } }
`,
    "slow.yaml",
  );
  const { journal } = await runRecipe(recipe, { seed: 1 });
  assert.equal(journal.verdict, "pass", journal.reason);
  const limits = (step: string) => {
    const blocks = journal.steps.find((s) => s.name === step)!.targets[0]!.output as {
      device: string;
      inserted?: { iops: number; bps: number };
    }[];
    const disk = blocks.find((b) => b.device === "disk0")!.inserted!;
    return [disk.iops, disk.bps];
  };
  assert.deepEqual(limits("while slow"), [20, 1024 * 1024]);
  assert.deepEqual(limits("after"), [0, 0]);
  const diskless = "recipe: 1\nname: x\nvms: { b: {} }\nsteps:\n" +
    "  - { name: s, on: b, disk-throttle: { iops: 5 } }\n";
  assert.throws(
    () => planRecipe(parseRecipe(diskless, "x.yaml"), 1),
    /disk-throttle cannot run on b: it has no disk/,
  );
});

Deno.test("faults: disk-fault fails the guest's writes with EIO, pauses it on ENOSPC, and heals both", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-disk-fault-" });
  const WRITE = "dd if=/dev/zero of=/dev/vda bs=4k count=16 conv=fsync";
  try {
    const recipe = parseRecipe(
      `recipe: 1
name: failing disk
vms: { a: { guest: builtin:linux, disks: [{ name: data, size: 16M }] } }
defaults: { timeout: 60s }
steps:
  - { name: up, wait-agent: {}, timeout: 180s }
  - { name: writes, on: a, agent: { exec: "${WRITE}" } }
  - { name: fail writes, id: bad, on: a, disk-fault: { disk: data, error: eio, ops: write } }
  - { name: write fails, on: a, agent: { exec: "${WRITE}", exit-code: 1 } }
  - name: reads pass
    on: a
    agent: { exec: "echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=4k count=16" }
  - { name: heal, on: a, heal: { step: bad } }
  - { name: writes again, on: a, agent: { exec: "${WRITE}" } }
  - { name: disk full, on: a, disk-fault: { disk: data, error: enospc, ops: write }, duration: 2s }
  - { name: write waits it out, on: a, agent: { exec: "${WRITE}" } }
`,
      "disk.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1, reportDir: dir, force: true });
    assert.equal(journal.verdict, "pass", `${journal.reason}: ${JSON.stringify(journal.steps)}`);
    const done = outcomes(journal);
    for (const step of ["write fails", "reads pass", "writes again", "write waits it out"]) {
      assert.equal(done[step], "ok", step);
    }
    assert.deepEqual(outputOf(journal, "fail writes"), {
      disk: "data",
      error: "eio",
      ops: "write",
    });
    const events = (await Deno.readTextFile(`${dir}/events.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line) as { event: string; data?: Record<string, unknown> });
    const io = events.filter((e) => e.event === "BLOCK_IO_ERROR").map((e) => e.data!);
    // EIO is reported to the guest; ENOSPC stops the VM (QEMU's default policy) until the heal.
    assert.ok(io.some((d) => d.action === "report" && d.device === "data"), JSON.stringify(io));
    assert.ok(io.some((d) => d.action === "stop" && d.nospace === true), JSON.stringify(io));
    assert.ok(events.some((e) => e.event === "STOP") && events.some((e) => e.event === "RESUME"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const unnamed = "recipe: 1\nname: x\nvms: { b: { disks: [{ size: 8M }] } }\nsteps:\n" +
    "  - { name: s, on: b, disk-fault: { disk: data } }\n";
  assert.throws(
    () => planRecipe(parseRecipe(unnamed, "x.yaml"), 1),
    /disk-fault cannot run on b: it has no disk "data" \(its disks: disk0\)/,
  );
  const badName =
    "recipe: 1\nname: x\nvms: { b: { disks: [{ name: 9x, size: 8M }] } }\nsteps: []\n";
  assert.throws(() => parseRecipe(badName, "x.yaml"), /x\.yaml:3:29: a disk's name is a letter/);
});

Deno.test("faults: cpu-limit starves a guest's CPU and memory-pressure takes its memory, both given back", async () => {
  // The guest counts for 2 s of its own time: fewer loops while QEMU gets a fifth of a CPU.
  const COUNT =
    "i=0; end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do i=$((i+1)); done; echo $i";
  const MEM = "awk '/MemTotal/ { print $2 }' /proc/meminfo";
  const recipe = parseRecipe(
    `recipe: 1
name: starved
vms: { a: { guest: builtin:linux, balloon: true, memory: 256 } }
defaults: { timeout: 60s }
steps:
  - { name: up, wait-agent: {}, timeout: 180s }
  - { name: free, on: a, agent: { exec: "${COUNT}" } }
  - { name: starve, id: starve, on: a, cpu-limit: { percent: 20 } }
  - { name: starved, on: a, agent: { exec: "${COUNT}" } }
  - { name: feed, on: a, heal: { step: starve } }
  - { name: memory, on: a, agent: { exec: "${MEM}" } }
  - { name: squeeze, on: a, memory-pressure: { balloon: 96M } }
  - { name: squeezed, on: a, agent: { exec: "${MEM}" } }
  - { name: release, on: a, heal: all }
  - { name: memory after, on: a, agent: { exec: "${MEM}" } }
`,
    "starved.yaml",
  );
  const { journal } = await runRecipe(recipe, { seed: 1 });
  assert.equal(journal.verdict, "pass", `${journal.reason}: ${JSON.stringify(journal.steps)}`);
  const number = (step: string) => Number((outputOf(journal, step).stdout as string).trim());
  assert.ok(number("starved") < number("free"), `${number("starved")} vs ${number("free")} loops`);
  // The balloon took 96 MiB from what the guest's kernel manages, and gave it back.
  assert.equal(number("memory") - number("squeezed"), 96 * 1024);
  assert.equal(number("memory after"), number("memory"));
  const unfit = "recipe: 1\nname: x\nvms: { b: {} }\nsteps:\n" +
    "  - { name: s, on: b, memory-pressure: { balloon: 8M } }\n";
  assert.throws(
    () => planRecipe(parseRecipe(unfit, "x.yaml"), 1),
    /memory-pressure cannot run on b: it has no balloon \(give it balloon: true\)/,
  );
});

Deno.test("faults: invariants { status: running } — a VM that leaves the running state breaks it, outside faults or not", async () => {
  const recipe = parseRecipe(
    `recipe: 1
name: keep running
vms: { a: {}, b: {} }
invariants:
  - { status: running, on: a }
  - { status: running, on: b, outside: faults }
steps:
  - { name: up, console: { wait: READY } }
  - { name: pause b, on: b, pause: {} }
  - { name: resume b, on: b, resume: {} }
  - { name: pause a, on: a, pause: {} }
  - { name: resume a, on: a, resume: {} }
`,
    "running.yaml",
  );
  const { journal } = await runRecipe(recipe, { seed: 1 });
  // b was paused by a step that targeted it (outside: faults); a's rule holds whatever happens.
  assert.deepEqual(journal.violations?.map((v) => [v.rule, v.vm, v.what.split(" ")[0]]), [
    ["status running", "a", "STOP"],
  ]);
  assert.equal(journal.verdict, "fail");
  const both = "recipe: 1\nname: x\nvms: { a: {} }\ninvariants:\n" +
    "  - { status: running, never: [STOP] }\nsteps: []\n";
  assert.throws(() => parseRecipe(both, "x.yaml"), /x\.yaml:5:5: invariants\[0\]: give it never/);
});
