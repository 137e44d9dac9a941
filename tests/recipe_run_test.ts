/** Recipes run on real VMs: every step kind, lockstep and forks, retries, cleanup, verdicts. */

import assert from "node:assert/strict";
import { parseRecipe, planRecipe, type RunJournal, runRecipe, type StepRecord } from "../mod.ts";

const HEAD = (vms: string, extra = "") => `recipe: 1\nname: t\n${extra}vms:\n${vms}\nsteps:\n`;

async function run(
  text: string,
  options: { seed?: number; deadline?: number } = {},
): Promise<RunJournal> {
  const lines: string[] = [];
  const { journal } = await runRecipe(parseRecipe(text, "t.yaml"), {
    seed: 1,
    log: (l) => lines.push(l),
    ...options,
  });
  return journal;
}

function step(journal: RunJournal, name: string): StepRecord {
  const found = journal.steps.find((s) => s.name === name);
  assert.ok(found, `no step ${name} in ${journal.steps.map((s) => s.name)}`);
  return found;
}

function statuses(journal: RunJournal, name: string): Record<string, string> {
  return Object.fromEntries(
    step(journal, name).targets.map((t) => [t.vm, t.status + (t.allowed ? "*" : "")]),
  );
}

Deno.test("run: every step kind on a real VM", async () => {
  const journal = await run(
    HEAD("  a: {}") +
      `  - { name: booted, console: { wait: READY } }
  - { name: exec, console: { exec: "hi-\${{ vm.name }}", expect: "/^unknown command/" } }
  - { name: qmp, qmp: { execute: query-name, expect: { name: a } } }
  - { name: pause, pause: {} }
  - { name: paused, wait-status: { status: [paused] } }
  - { name: resume, resume: {} }
  - { name: policy, panic-action: pause }
  - { name: nmi, nmi: {} }
  - { name: panicked, wait-event: { event: GUEST_PANICKED, match: { action: pause } } }
  - { name: reset, reset: {} }
  - { name: ready again, console: { wait: READY, fail-on: PANIC } }
  - { name: send, console: { send: "crash\\r" } }
  - { name: crash-loaded, wait-event: { event: GUEST_CRASHLOADED } }
  - { name: powerdown, powerdown: {} }
  - { name: nap, sleep: 10ms }
  - { name: kill, kill: {} }
  - { name: start, start: {} }
  - { name: booted again, console: { wait: READY } }
  - { name: type a prompt, console: { send: "ok? " } }
  - { name: prompt seen, console: { wait: "ok?", prompt: true } }
  - { name: stop, stop: { grace: 0s } }
  - { name: on purpose, fail: "stop here \${{ vm.name }}", continue-on-error: true }
`,
  );
  for (const s of journal.steps.filter((s) => s.name !== "on purpose")) {
    assert.deepEqual(statuses(journal, s.name), { a: "ok" }, `step ${s.name}`);
  }
  assert.deepEqual(statuses(journal, "on purpose"), { a: "failed*" });
  assert.equal(step(journal, "on purpose").targets[0]!.error, "vm 'a': stop here a");
  assert.equal(
    step(journal, "exec").targets[0]!.output,
    "unknown command; try panic, crash, reboot, poweroff",
  );
  assert.deepEqual(step(journal, "panicked").targets[0]!.output, {
    event: "GUEST_PANICKED",
    data: { action: "pause" },
    timestamp: (step(journal, "panicked").targets[0]!.output as { timestamp: unknown }).timestamp,
  });
  assert.equal(journal.verdict, "pass");
});

Deno.test("run: lockstep, and forks caps how many VMs act at once", async () => {
  const journal = await run(
    HEAD("  n[1:3]: {}", "defaults: { forks: 1 }\n") +
      "  - { name: nap, sleep: 50ms }\n  - { name: again, sleep: 1ms }\n",
  );
  const nap = step(journal, "nap").targets;
  for (let i = 1; i < nap.length; i++) {
    assert.ok(nap[i]!.startMs! >= nap[i - 1]!.endMs!, "one at a time");
  }
  const latestEnd = Math.max(...nap.map((t) => t.endMs!));
  for (const t of step(journal, "again").targets) {
    assert.ok(t.startMs! >= latestEnd, "the next step waits for all");
  }
});

Deno.test("run: retries count attempts; until is checked on the output", async () => {
  const journal = await run(
    HEAD("  a: { guest: none }") +
      "  - name: never\n    fail: nope\n    retry: { attempts: 3, interval: 10ms }\n    continue-on-error: true\n" +
      "  - name: until paused\n    qmp: { execute: query-status }\n    retry: { attempts: 2, interval: 10ms, until: { status: paused } }\n    continue-on-error: true\n" +
      "  - name: until running\n    qmp: { execute: query-status }\n    retry: { attempts: 2, interval: 10ms, until: { status: running } }\n",
  );
  assert.deepEqual(statuses(journal, "never"), { a: "failed*" });
  assert.match(
    step(journal, "until paused").targets[0]!.error!,
    /does not match until \{"status":"paused"\}/,
  );
  assert.equal(step(journal, "until running").targets[0]!.attempts, 1);
  assert.equal(journal.verdict, "pass");
});

Deno.test("run: a failed VM leaves later steps; rescue and always run; finally always runs", async () => {
  const journal = await run(
    HEAD("  a: { guest: none }\n  b: { guest: none }") +
      `  - { name: act, pause: {} }
  - name: guarded
    block:
      - { name: breaks on b, on: b, fail: broken }
      - { name: after the break, qmp: { execute: query-status } }
    rescue:
      - { name: rescue, qmp: { execute: query-name } }
    always:
      - { name: always, qmp: { execute: query-version } }
  - { name: unguarded, on: a, fail: "a breaks" }
  - { name: later, qmp: { execute: query-status } }
finally:
  - { name: cleanup, qmp: { execute: query-status } }
`,
  );
  assert.deepEqual(statuses(journal, "after the break"), { a: "ok", b: "skipped" });
  assert.deepEqual(statuses(journal, "rescue"), { b: "ok" });
  assert.deepEqual(statuses(journal, "always"), { a: "ok", b: "ok" });
  assert.deepEqual(statuses(journal, "guarded"), { a: "ok", b: "ok" });
  assert.deepEqual(statuses(journal, "later"), { a: "skipped", b: "ok" });
  assert.deepEqual(statuses(journal, "cleanup"), { a: "ok", b: "ok" });
  assert.equal(journal.verdict, "fail");
  assert.match(journal.reason, /unguarded on a/);
});

Deno.test("run: a timed-out step names the VM, the step and the last console line", async () => {
  const journal = await run(
    HEAD("  a: {}") +
      "  - { name: booted, console: { wait: READY } }\n" +
      "  - name: guarded\n    block:\n      - { name: never, console: { wait: NEVER }, timeout: 200ms }\n" +
      "    rescue:\n      - { name: rescued, qmp: { execute: query-status } }\n" +
      "finally:\n  - { name: cleanup, qmp: { execute: query-status } }\n",
  );
  const never = step(journal, "never").targets[0]!;
  assert.equal(never.status, "timeout");
  assert.equal(
    never.error,
    `step 'never' timed out after 200 ms on a: no console line matching "NEVER" within 200 ms; ` +
      `last console line: "READY"`,
  );
  assert.deepEqual(statuses(journal, "rescued"), { a: "ok" });
  assert.deepEqual(statuses(journal, "cleanup"), { a: "ok" });
});

Deno.test("run: serial batches stop at max-failures; later batches are skipped", async () => {
  const journal = await run(
    HEAD("  n[1:6]: { guest: none, groups: [web] }") +
      `  - name: roll
    on: web
    serial: [1, 2]
    max-failures: 0
    block:
      - { name: pause, pause: {} }
      - { name: breaks on n3, on: n3, fail: broken }
      - { name: resume, resume: {} }
`,
  );
  assert.deepEqual(statuses(journal, "roll"), {
    n1: "ok",
    n2: "ok",
    n3: "failed",
    n4: "skipped",
    n5: "skipped",
    n6: "skipped",
  });
  assert.equal(journal.verdict, "fail");
});

Deno.test("run: verdicts pass, fail, unknown (baseline, unmeasured) and error", async () => {
  const pass = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: s, id: s, pause: {} }\nmetrics:\n  m: { from: s.start, to: s.end, max: 1h }\n",
  );
  assert.equal(pass.verdict, "pass");
  assert.ok(pass.metrics[0]!.values.a! >= 0);

  const over = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: s, id: s, sleep: 20ms }\nmetrics:\n  m: { from: s.start, to: s.end, max: 1ms }\n",
  );
  assert.equal(over.verdict, "fail");
  assert.match(over.reason, /metric\(s\) over their max: m/);

  const baseline = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: check, fail: unhealthy }\n  - { name: act, pause: {} }\n",
  );
  assert.equal(baseline.verdict, "unknown");
  assert.match(baseline.reason, /baseline was unhealthy/);

  const unmeasured = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: s, id: s, if: { var: go }, pause: {} }\nmetrics:\n  m: { from: s.start, to: s.end }\n",
    {},
  ).catch((e) => e);
  assert.match(String(unmeasured), /unknown variable 'go'/);
  const skipped = await run(
    HEAD("  a: { guest: none }", "vars: { go: false }\n") +
      "  - { name: s, id: s, if: { var: go }, pause: {} }\nmetrics:\n  m: { from: s.start, to: s.end }\n",
  );
  assert.equal(skipped.verdict, "unknown");
  assert.match(skipped.reason, /could not measure: m/);

  const error = await run(
    HEAD("  a: { attach: 'unix:/nonexistent/corral.qmp' }") + "  - { name: s, pause: {} }\n",
  );
  assert.equal(error.verdict, "error");
  assert.match(
    error.reason,
    /could not be brought up; a: .*no socket at \/nonexistent\/corral\.qmp/,
  );
});

Deno.test("run: a run deadline stops the steps, and finally still runs", async () => {
  const journal = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: long, sleep: 30s, timeout: 1m }\nfinally:\n  - { name: cleanup, qmp: { execute: query-status } }\n",
    { deadline: 200 },
  );
  assert.equal(journal.verdict, "fail");
  assert.match(journal.reason, /deadline of 200 ms/);
  assert.deepEqual(statuses(journal, "cleanup"), { a: "ok" });
});

Deno.test("run: the report in-process leaves no file open, and qmp.log keeps every line in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-report-" });
  try {
    // Six VMs write their logs at once; the sanitizers catch a file left open.
    await runRecipe(
      parseRecipe(HEAD("  n[1:6]: { guest: none }") + "  - { name: s, pause: {} }\n", "t.yaml"),
      { seed: 1, reportDir: dir },
    );
    for (let i = 1; i <= 6; i++) {
      const log = await Deno.readTextFile(`${dir}/vms/n${i}/qmp.log`);
      assert.match(log, /-- step 's' \(pause\)\n.*-> \{"execute":"stop".*<- .*"event": "STOP"/s);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: a stop says whether the guest powered off or had to be forced", async () => {
  // The tiny guest ignores the ACPI power button: after its grace, QEMU is made to quit.
  const recipe = parseRecipe(
    "recipe: 1\nname: stops\nvms: { a: {} }\nsteps:\n" +
      "  - { name: booted, console: { wait: READY } }\n" +
      "  - { name: stop, id: stop, stop: { grace: 200ms } }\n",
    "stops.yaml",
  );
  const lines: string[] = [];
  const { journal } = await runRecipe(recipe, { seed: 1, log: (line) => lines.push(line) });
  const output = journal.steps.find((s) => s.name === "stop")!.targets[0]!.output as {
    how: string;
    note: string;
  };
  assert.equal(output.how, "quit");
  assert.match(output.note, /the guest did not power off within 200 ms: QEMU quit/);
  assert.ok(
    lines.some((line) => /✓ a .* — the guest did not power off/.test(line)),
    lines.join("\n"),
  );
});

Deno.test("run: a stop past its step's deadline ends the grace at once and stops the VM before the step reports", async () => {
  // The tiny guest ignores the power button: without the step's signal the grace would run 10 min.
  const dir = await Deno.makeTempDir({ prefix: "corral-stop-" });
  try {
    const recipe = parseRecipe(
      "recipe: 1\nname: stops\nvms: { a: {} }\nsteps:\n" +
        "  - { name: booted, console: { wait: READY } }\n" +
        "  - { name: stop, stop: { grace: 10m }, timeout: 1s }\n",
      "stops.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1, reportDir: `${dir}/r` });
    const stop = journal.steps.find((s) => s.name === "stop")!.targets[0]!;
    assert.equal(stop.status, "timeout", JSON.stringify(stop));
    // QEMU was told to quit, and did, before the step ended.
    const events = (await Deno.readTextFile(`${dir}/r/events.jsonl`)).split("\n").filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((e) => e.type === "qmp-event" && e.vm === "a" && e.event === "SHUTDOWN");
    assert.ok(events.some((e) => e.ms <= stop.endMs!), JSON.stringify({ events, stop }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run: a plan made once is the run's (its seed and picks); another recipe's plan is refused", async () => {
  const text = "recipe: 1\nname: planned\nvms: { a: { guest: none }, b: { guest: none } }\n" +
    "steps:\n  - { name: ask, on: all, qmp: { execute: query-status } }\n";
  const recipe = parseRecipe(text, "planned.yaml");
  const plan = planRecipe(recipe, 7, { limit: "a" });
  const { journal } = await runRecipe(recipe, { plan, seed: 1 });
  assert.equal(journal.seed, 7);
  assert.deepEqual(journal.steps.map((s) => s.targets.map((t) => t.vm)), [["a"]]);
  await assert.rejects(
    () => runRecipe(parseRecipe(text, "planned.yaml"), { plan }),
    /the plan given is not this recipe's/,
  );
});
