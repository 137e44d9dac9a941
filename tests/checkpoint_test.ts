/**
 * Checkpoints (issue 24): a `checkpoint: NAME` step saves every VM of the
 * lab at one moment into `--checkpoints DIR`; a later `corral run
 * --resume-from NAME` starts the lab there — restored, not booted — and
 * runs the steps after it, with what the guests had in memory and on disk
 * at that moment (and nothing written after it). A checkpoint names the
 * recipe, the VMs' specs, the QEMU build and the files its disks stand on,
 * and refuses to be resumed into anything else, nothing started.
 */

import assert from "node:assert/strict";
import { corral, type Outcome, recipeFile } from "./_cli.ts";
import { parseRecipe, planRecipe, RecipeError } from "../mod.ts";

const recipe = (memory: string) =>
  `recipe: 1
name: checkpointed
vms:
  a: { guest: builtin:linux, memory: ${memory}, disks: [{ name: data, size: 16M }] }
  b: {}
steps:
  - { name: a up, on: a, wait-agent: {} }
  - { name: b up, on: b, console: { wait: READY } }
  - name: written before
    on: a
    agent: { exec: "echo before > /run/mark && echo disk-before | dd of=/dev/vda conv=fsync 2>/dev/null" }
  - { name: b paused, on: b, pause: {} }
  - { name: saved, checkpoint: ready }
  # What holds right after the checkpoint, in the run that saved it and in every run resumed there.
  - name: as at the checkpoint
    on: a
    agent: { exec: "echo $(cat /run/mark) $(head -c 11 /dev/vda)", expect: "before disk-before" }
  - { name: b still paused, on: b, wait-status: { status: [paused, postmigrate] } }
  - name: written after
    on: a
    agent: { exec: "echo after > /run/mark && echo disk-after! | dd of=/dev/vda conv=fsync 2>/dev/null" }
  - { name: b runs again, on: b, resume: {} }
  - { name: b running, on: b, wait-status: { status: running } }
`;

Deno.test("checkpoint: a later run resumes the lab at the checkpoint — restored, not booted — with what was in memory and on disk then, not what came after; a changed VM, another QEMU build or a missing checkpoint is refused with the reason, nothing started", async () => {
  const file = await recipeFile(recipe("256M"));
  const dir = await Deno.makeTempDir({ prefix: "corral-checkpoints-" });
  try {
    const first = await corral(["run", file, "--checkpoints", dir]);
    assert.equal(first.code, 0, first.out + first.err);
    assert.match(first.out, /saved into .*\/ready; the lab stood still \d+ ms/);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/ready/checkpoint.json`));
    assert.deepEqual(meta.vms.map((vm: { name: string }) => vm.name), ["a", "b"]);
    assert.deepEqual(meta.vms.map((vm: { running: boolean }) => vm.running), [true, false]);
    assert.equal((await Deno.stat(`${dir}/ready`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/ready/a/data.qcow2`)).mode! & 0o777, 0o400);

    // Twice, each from the same checkpoint: the first resumed run's writes are not in the second.
    for (const _ of [1, 2]) {
      const resumed = await corral(["run", file, "--checkpoints", dir, "--resume-from", "ready"]);
      assert.equal(resumed.code, 0, resumed.out + resumed.err);
      assert.equal(launches(resumed).length, 2);
      for (const start of launches(resumed)) assert.match(start, /-incoming defer/);
      assert.match(resumed.out, new RegExp(`seed ${meta.seed}\\b`));
      assert.match(resumed.out, /▶ written before \(skipped: before checkpoint 'ready'\)/);
      assert.match(resumed.out, /a: restored from checkpoint 'ready' \(pid \d+\)/);
    }
    await checkRefusals(file, dir);
  } finally {
    await Deno.remove(file);
    await Deno.remove(dir, { recursive: true });
  }
});

/** Resuming from `dir`'s checkpoint `ready` into what it was not saved from. */
async function checkRefusals(file: string, dir: string): Promise<void> {
  const fake = `${dir}/qemu-99`;
  try {
    const resume = ["--checkpoints", dir, "--resume-from"];

    await Deno.writeTextFile(file, recipe("320M"));
    const changed = await corral(["run", file, ...resume, "ready"]);
    assert.equal(changed.code, 2, changed.out + changed.err);
    assert.match(
      changed.err,
      /cannot resume from checkpoint 'ready' .*VM a changed since: its memory is not what it was/,
    );
    assert.equal(launches(changed).length, 0);

    await Deno.writeTextFile(file, recipe("256M"));
    const real = Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
    await Deno.writeTextFile(
      fake,
      `#!/bin/sh\n[ "$1" = --version ] && { echo "QEMU emulator version 99.0.0"; exit 0; }\nexec ${real} "$@"\n`,
    );
    await Deno.chmod(fake, 0o755);
    const other = await corral(["run", file, ...resume, "ready"], {
      env: { CORRAL_REAL_QEMU: fake },
    });
    assert.equal(other.code, 2, other.out + other.err);
    assert.match(
      other.err,
      /VM a was saved by QEMU emulator version .*; this run has QEMU emulator version 99\.0\.0/,
    );
    assert.equal(launches(other).length, 0);

    const missing = await corral(["run", file, ...resume, "redy"]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--resume-from "redy": no step 'checkpoint: redy'.*ready/s);
  } finally {
    await Deno.writeTextFile(file, recipe("256M"));
  }
}

Deno.test("checkpoint: only among the top-level steps, once per name, where no fault is active; without --checkpoints the step says it saved nothing", async () => {
  const text = `recipe: 1
name: misplaced
vms: { a: {} }
steps:
  - { name: s1, checkpoint: one }
  - { name: s2, checkpoint: one }
  - name: b
    block:
      - { name: s3, checkpoint: inner }
finally:
  - { name: s4, checkpoint: last }
`;
  const problems = planProblems(text);
  assert.match(problems, /:6:\d+: checkpoint 'one' is saved at misplaced\.yaml:5:\d+ too/);
  assert.match(problems, /:9:\d+: a checkpoint is a top-level step, not inside a block/);
  assert.match(problems, /:11:\d+: a checkpoint cannot be in finally/);
  assert.match(
    planProblems(text.replace("checkpoint: one }", `checkpoint: "../up" }`)),
    /:5:\d+: checkpoint: "\.\.\/up" is not a name/,
  );

  const faulty = await recipeFile(`recipe: 1
name: faulty
vms: { a: {} }
steps:
  - { name: up, console: { wait: READY } }
  - { name: unsaved, checkpoint: first }
  - { name: slowed, cpu-limit: { percent: 50 } }
  - { name: saved, checkpoint: slowed }
`);
  const dir = await Deno.makeTempDir({ prefix: "corral-checkpoints-" });
  try {
    const plain = await corral(["run", faulty]);
    assert.equal(plain.code, 0, plain.out + plain.err);
    assert.match(plain.out, /not saved: run with --checkpoints DIR/);
    const kept = await corral(["run", faulty, "--checkpoints", dir]);
    assert.equal(kept.code, 1, kept.out + kept.err);
    assert.match(kept.out, /checkpoint 'slowed' would hold a fault corral injected/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["first"]);
  } finally {
    await Deno.remove(faulty);
    await Deno.remove(dir, { recursive: true });
  }
});

/** The QEMUs a run started (the recorder also sees `qemu --version`, which starts no VM). */
function launches(outcome: Outcome): string[] {
  return outcome.qemuStarts.filter((start) => !/^\d+ --version$/.test(start));
}

/** The problems `check` would find in a recipe, as one text. */
function planProblems(text: string): string {
  try {
    planRecipe(parseRecipe(text, "misplaced.yaml"), 1);
  } catch (error) {
    if (error instanceof RecipeError) return error.message;
    throw error;
  }
  return "";
}
