/**
 * Promises the runner makes (issue 9): honest verdicts, timeouts that say
 * what timed out, secrets that never reach a report, report files with
 * documented times, and a report directory that is never mixed.
 */

import assert from "node:assert/strict";
import { parseRecipe, type RunJournal, runRecipe, summary } from "../mod.ts";
import { rejectsWith } from "./_assert.ts";
import { ReportDirError } from "../lib/recipe/report.ts";

const HEAD = (vms: string, extra = "") => `recipe: 1\nname: t\n${extra}vms:\n${vms}\nsteps:\n`;

async function run(
  text: string,
  options: { vars?: Record<string, string>; reportDir?: string; seed?: number } = {},
): Promise<RunJournal> {
  const recipe = parseRecipe(text, "t.yaml", { vars: options.vars });
  return (await runRecipe(recipe, { seed: options.seed ?? 1, reportDir: options.reportDir }))
    .journal;
}

function target(journal: RunJournal, step: string, vm = "a") {
  return journal.steps.find((s) => s.name === step)!.targets.find((t) => t.vm === vm)!;
}

Deno.test("verdict: a run that tested nothing is unknown, not pass", async () => {
  const empty = await run(HEAD("  a: { guest: none }").replace("steps:\n", "steps: []\n"));
  assert.equal(empty.verdict, "unknown");
  assert.equal(empty.reason, "no step ran on any VM");

  const untargeted = await run(
    HEAD("  a: { guest: none }\n  b: { guest: none, groups: [spare] }") +
      "  - { name: nobody, on: 'spare:!b', pause: {} }\n  - { name: a works, on: a, pause: {} }\n",
  );
  assert.equal(untargeted.verdict, "unknown");
  assert.match(untargeted.reason, /step\(s\) with no target VM: nobody/);

  const skipped = await run(
    HEAD("  a: { guest: none }", "vars: { go: false }\n") +
      "  - { name: s, if: { var: go }, pause: {} }\n",
  );
  assert.equal(skipped.verdict, "unknown");
  assert.equal(skipped.reason, "no step ran on any VM");
});

Deno.test("verdict: failures tolerated by max-failures do not fail the run; the table says why", async () => {
  const journal = await run(
    HEAD("  n[1:3]: { guest: none, groups: [web] }") +
      "  - name: roll\n    on: web\n    max-failures: 1\n    block:\n" +
      "      - { name: breaks on n2, on: n2, fail: broken }\n" +
      "      - { name: check, qmp: { execute: query-status } }\n",
  );
  assert.equal(journal.verdict, "pass", journal.reason);
  assert.equal(target(journal, "breaks on n2", "n2").allowed, true);
  assert.match(summary(journal, false), /fail\*/);
  assert.match(
    summary(journal, false),
    /\* a failure that was allowed \(continue-on-error, max-failures or rescued\)/,
  );
});

Deno.test("verdict: a mutating step that times out fails the run (it is the fault, not the baseline)", async () => {
  const journal = await run(
    HEAD("  a: {}") +
      "  - { name: booted, console: { wait: READY } }\n" +
      "  - { name: hangs, console: { exec: hello, expect: NEVER }, timeout: 300ms }\n",
  );
  assert.equal(target(journal, "hangs").status, "timeout");
  assert.equal(journal.verdict, "fail", journal.reason);
});

Deno.test("timeouts say what timed out: the action's own deadline, or the step's with what it saw", async () => {
  const journal = await run(
    HEAD("  a: { guest: none }") +
      "  - { name: short wait, wait-event: { event: NEVER, timeout: 300ms }, continue-on-error: true }\n" +
      "  - { name: never paused, wait-status: { status: paused }, timeout: 300ms }\n",
  );
  assert.equal(
    target(journal, "short wait").error,
    "wait-event timed out after 300 ms (its own timeout; the step allows 30 s) on a: " +
      "no NEVER event within 300 ms",
  );
  assert.match(
    target(journal, "never paused").error!,
    /^step 'never paused' timed out after 300 ms on a: the run state is running( \(query-status got no answer\))?, not paused, after \d+ ms$/,
  );
});

Deno.test("templates render in qmp expect", async () => {
  const journal = await run(
    HEAD("  a: { guest: none }\n  b: { guest: none }") +
      "  - { name: named, qmp: { execute: query-name, expect: { name: '${{ vm.name }}' } } }\n",
  );
  assert.equal(journal.verdict, "pass", journal.reason);
});

const SECRET = 'Pa"ss\\word9';

Deno.test("secrets: masked on the values in every report file, whatever they hold", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-secret-" });
  try {
    const journal = await run(
      HEAD(
        "  a: { guest: none }",
        "vars: { db_password: x, api_key: 123, pin: { value: ab, secret: true }, keyboard: us }\n",
      ) +
        "  - { name: use it, qmp: { execute: human-monitor-command, arguments: { command-line: 'info ${{ vars.db_password }} ${{ vars.pin }}' } } }\n" +
        "  - { name: say it, fail: '${{ vars.db_password }} ${{ vars.api_key }} ${{ vars.keyboard }}', continue-on-error: true }\n",
      { vars: { db_password: SECRET }, reportDir: dir, seed: 1234 },
    );
    assert.equal(journal.seed, 1234, "a number that merely contains a secret number stays");
    assert.equal(target(journal, "say it").error, "vm 'a': *** *** us");
    const escaped = JSON.stringify(SECRET).slice(1, -1);
    for (const file of ["journal.json", "events.jsonl", "junit.xml", "vms/a/qmp.log"]) {
      const text = await Deno.readTextFile(`${dir}/${file}`);
      for (const form of [SECRET, escaped]) {
        assert.ok(!text.includes(form), `${file} holds the secret as ${form}`);
      }
      assert.ok(!/\bab\b/.test(text), `${file} holds the short declared secret`);
    }
    assert.match(await Deno.readTextFile(`${dir}/vms/a/qmp.log`), /info \*\*\* \*\*\*/);
    assert.match(await Deno.readTextFile(`${dir}/journal.json`), /"seed": 1234/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: times are ISO wall-clock plus ms since the start, alike in every file; qmp.log starts at the greeting", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-times-" });
  try {
    const journal = await run(HEAD("  a: {}") + "  - { name: s, pause: {} }\n", { reportDir: dir });
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    assert.match(journal.startedAt, iso);
    const step = journal.steps[0]!;
    assert.match(step.startedAt, iso);
    assert.equal(typeof step.startMs, "number");
    assert.match(step.targets[0]!.endedAt!, iso);
    const events = (await Deno.readTextFile(`${dir}/events.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    for (const event of events) {
      assert.match(event.time, iso, JSON.stringify(event));
      assert.equal(typeof event.ms, "number");
    }
    // The boot-time RESUME (from `cont` at launch) is recorded too.
    assert.ok(events.some((e) => e.type === "qmp-event" && e.event === "RESUME"));
    const log = await Deno.readTextFile(`${dir}/vms/a/qmp.log`);
    const first = log.split("\n")[0]!;
    assert.match(first, /^\d{4}-\d\d-\d\dT\S+Z \+\d+\.\dms <- \{"QMP": /);
    assert.match(log, /-> \{"execute":"qmp_capabilities"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: a used directory is refused unless force, which empties it first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-used-" });
  try {
    await Deno.mkdir(`${dir}/vms/old-vm`, { recursive: true });
    const recipe = parseRecipe(
      HEAD("  a: { guest: none }") + "  - { name: s, pause: {} }\n",
      "t.yaml",
    );
    await rejectsWith(
      runRecipe(recipe, { reportDir: dir }),
      ReportDirError,
      /is not empty.*--force/,
    );
    assert.ok((await Deno.stat(`${dir}/vms/old-vm`)).isDirectory, "nothing was touched");
    await runRecipe(recipe, { reportDir: dir, force: true });
    const vms = await Array.fromAsync(Deno.readDir(`${dir}/vms`), (e) => e.name);
    assert.deepEqual(vms, ["a"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verdict: a lab that could not be brought up is an error, and finally does not run on nothing", async () => {
  const journal = await run(
    HEAD('  a: { args: ["-no-such-option"] }') +
      "  - { name: booted, console: { wait: READY } }\n" +
      "finally:\n  - { name: stop, stop: { grace: 0s } }\n",
  );
  assert.equal(journal.verdict, "error");
  assert.match(journal.reason, /could not be brought up/);
  assert.deepEqual(journal.steps, []);
});
