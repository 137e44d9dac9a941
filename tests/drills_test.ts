/** The shipped fault drills, run as a normal user runs them: no root (issue 22). */

import assert from "node:assert/strict";
import { cli, root } from "./_cli.ts";
import type { RunJournal } from "../mod.ts";
import { ensureLinuxGuest, linuxCacheDir } from "../lib/vm/guest/linux.ts";

const NOBODY = 65534;

/**
 * A home for `nobody` with what a fresh user would have fetched: deno, the
 * npm packages (copied from this user's cache) and the built guest. As root,
 * the commands run as `nobody` (setpriv); as anyone else they run as is.
 */
async function unprivilegedHome(): Promise<
  { home: string; command: (args: string[]) => Deno.Command }
> {
  await ensureLinuxGuest();
  const home = await Deno.makeTempDir({ prefix: "corral-nobody-" });
  const deno = `${home}/deno`;
  await Deno.link(Deno.execPath(), deno).catch(() => Deno.copyFile(Deno.execPath(), deno));
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  await Deno.mkdir(`${home}/deno-dir`);
  await new Deno.Command("cp", { args: ["-a", `${denoDir}/npm`, `${home}/deno-dir/`] }).output();
  await Deno.mkdir(`${home}/cache/corral`, { recursive: true });
  await new Deno.Command("cp", { args: ["-a", linuxCacheDir(), `${home}/cache/corral/`] }).output();
  const root = Deno.uid() === 0;
  if (root) await new Deno.Command("chown", { args: ["-R", `${NOBODY}:${NOBODY}`, home] }).output();
  const env = [`HOME=${home}`, `DENO_DIR=${home}/deno-dir`, `XDG_CACHE_HOME=${home}/cache`];
  const command = (args: string[]) =>
    new Deno.Command(root ? "setpriv" : "env", {
      args: [
        ...(root ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "env"] : []),
        "-i",
        `PATH=${Deno.env.get("PATH")}`,
        ...env,
        "NO_COLOR=1",
        ...(Deno.env.get("CORRAL_QEMU") ? [`CORRAL_QEMU=${Deno.env.get("CORRAL_QEMU")}`] : []),
        deno,
        ...args,
      ],
      cwd: root ? home : undefined,
      stdout: "piped",
      stderr: "piped",
    });
  return { home, command };
}

/** Run a shipped drill as a normal user; its journal, checked to pass and written by that user. */
async function runDrill(
  drill: string,
  home: string,
  command: (args: string[]) => Deno.Command,
): Promise<{ journal: RunJournal; report: string }> {
  const report = `${home}/${drill}`;
  const recipe = `${root}recipes/${drill}-drill.yaml`;
  const args = ["run", "--cached-only", "-A", cli, "run", recipe, "--report", report];
  const { code, stdout, stderr } = await command(args).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  const journal: RunJournal = JSON.parse(await Deno.readTextFile(`${report}/journal.json`));
  assert.equal(journal.verdict, "pass", journal.reason);
  // Written by whoever ran it: nobody, when these tests run as root.
  const owner = (await Deno.stat(`${report}/journal.json`)).uid;
  assert.equal(owner, Deno.uid() === 0 ? NOBODY : Deno.uid(), drill);
  assert.notEqual(owner, 0);
  return { journal, report };
}

/**
 * The attempts of `probe` wholly between the fault step's end (+ `settle` ms)
 * and its heal's start, and those that ended before the fault began (one that
 * straddles the fault's start may rightly have seen it).
 */
function attemptsAround(journal: RunJournal, probe: string, fault: string, settle: number) {
  const attempts = journal.probes!.find((p) => p.name === probe)!.attempts;
  const cut = journal.steps.find((s) => s.name === fault)!;
  const healed = journal.steps.find((s) => s.name === `undo ${fault}`)!;
  return {
    inside: attempts.filter((a) => a.startMs > cut.endMs + settle && a.endMs < healed.startMs),
    before: attempts.filter((a) => a.endMs < cut.startMs),
    last: attempts.at(-1)!,
  };
}

/**
 * What these add to the faults' own tests (which run on every QEMU build) is
 * the shipped drills run by a normal user: .ci/run's pass with the next
 * QEMU build does not repeat them (CORRAL_CI_REPEAT), to keep CI in its time.
 */
const once = { ignore: Deno.env.get("CORRAL_CI_REPEAT") === "1" };

Deno.test({
  name:
    "drill: recipes/partition-drill.yaml as a normal user — the probe fails while the server is cut off, recovers after, nothing else noticed",
  ...once,
}, async () => {
  const { home, command } = await unprivilegedHome();
  try {
    const { journal, report } = await runDrill("partition", home, command);
    // Every attempt wholly inside the partition failed; those before passed.
    const { inside, before } = attemptsAround(journal, "web", "cut the server off", 100);
    assert.ok(inside.length >= 3 && inside.every((a) => !a.ok), JSON.stringify(inside));
    assert.ok(before.length > 0 && before.every((a) => a.ok), JSON.stringify(before));
    const outage = journal.metrics.find((m) => m.name === "outage")!;
    assert.ok(outage.values.client! >= 4500, `the outage was ${outage.values.client} ms`);
    const pcap = await Deno.stat(`${report}/lan.pcap`);
    assert.ok(pcap.size > 1000, "the capture holds the drill's frames");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test({
  name:
    "drill: recipes/disk-failure-drill.yaml as a normal user — the guest's writes fail while the disk does, QEMU reports it, the writer carries on",
  ...once,
}, async () => {
  const { home, command } = await unprivilegedHome();
  try {
    const { journal, report } = await runDrill("disk-failure", home, command);
    // A write takes up to 0.5 s to show in the log: attempts from 1 s into the fault on saw it fail.
    const { inside, before, last } = attemptsAround(journal, "writes", "the disk fails", 1000);
    assert.ok(inside.length >= 3 && inside.every((a) => !a.ok), JSON.stringify(inside));
    assert.ok(before.length > 0 && before.every((a) => a.ok), JSON.stringify(before));
    assert.ok(last.ok, "the writer carried on");
    const outage = journal.metrics.find((m) => m.name === "outage")!;
    assert.ok(outage.values.db! >= 4000, `the outage was ${outage.values.db} ms`);
    const errors = (await Deno.readTextFile(`${report}/events.jsonl`)).trim().split("\n")
      .map((line) => JSON.parse(line)).filter((e) => e.event === "BLOCK_IO_ERROR");
    assert.ok(errors.length > 0 && errors.every((e) => e.vm === "db"), JSON.stringify(errors));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
