/**
 * Maintenance steps in recipes (issue 14): migrate (the recipe's VM becomes
 * the destination), snapshot, backup and hot-plug, on real QEMUs.
 */

import assert from "node:assert/strict";
import { parseRecipe, type RunJournal, runRecipe, type StepRecord } from "../mod.ts";

async function run(text: string, reportDir?: string): Promise<RunJournal> {
  const { journal } = await runRecipe(parseRecipe(text, "m.yaml"), {
    seed: 1,
    reportDir,
    log: (line) => Deno.env.get("CORRAL_TEST_LOG") && console.log(line),
  });
  return journal;
}

function target(journal: RunJournal, name: string, vm: string) {
  const step: StepRecord | undefined = journal.steps.find((s) => s.name === name);
  assert.ok(step, `no step ${name}`);
  const found = step.targets.find((t) => t.vm === vm);
  assert.ok(found, `no target ${vm} in ${name}`);
  return found;
}

Deno.test("recipe migrate: each VM moves to a new QEMU; later steps, waits, console and report follow it", async () => {
  const report = await Deno.makeTempDir();
  try {
    const journal = await run(
      `recipe: 1
name: evacuate-tiny
vms:
  web[1:2]: { groups: [web] }
steps:
  - { name: booted, console: { wait: READY } }
  - name: evacuate
    id: evac
    migrate: { to: "\${{ vm.name }}-new", max-bandwidth: 1G, downtime-limit: 300ms }
  - { name: resumed there, wait-event: { event: RESUME } }
  - { name: its console answers, console: { exec: "hi", expect: "/^unknown command/" } }
  - { name: named as the new instance, qmp: { execute: query-name, expect: { name: "\${{ vm.name }}-new" } } }
  - { name: crash it there, nmi: {} }
  - { name: panic seen, wait-event: { event: GUEST_PANICKED } }
metrics:
  downtime: { value: evac.downtimeMs, max: 10s }
  total: { value: evac.totalTimeMs }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
      report,
    );
    assert.equal(journal.verdict, "pass", journal.reason);
    const moved = target(journal, "evacuate", "web1").output as Record<string, unknown>;
    assert.deepEqual([moved.from, moved.to], ["web1", "web1-new"]);
    const downtime = journal.metrics.find((m) => m.name === "downtime")!;
    assert.deepEqual(Object.keys(downtime.values).sort(), ["web1", "web2"]);
    assert.equal(downtime.pass, true);
    // The report's console log holds both QEMUs' output: READY from the first, the echo from the second.
    const log = await Deno.readTextFile(`${report}/vms/web1/console.log`);
    assert.ok(log.indexOf("READY") < log.indexOf("hi"), log);
    const events = await Deno.readTextFile(`${report}/events.jsonl`);
    assert.match(events, /"vm":"web1","event":"MIGRATION"/);
    assert.match(events, /"vm":"web1","event":"GUEST_PANICKED"/);
  } finally {
    await Deno.remove(report, { recursive: true });
  }
});

Deno.test("recipe snapshot, backup, hot-plug: a duplicate tag fails, a rollback restores the disk, backups are valid images", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const journal = await run(
      `recipe: 1
name: maintenance
vms:
  a: { disks: [{ size: 16M }], args: [-device, "virtio-serial-pci,id=vs"] }
steps:
  - { name: booted, console: { wait: READY } }
  - { name: save, snapshot: { save: before } }
  - { name: save again, snapshot: { save: before }, continue-on-error: true }
  - name: write the disk
    qmp: { execute: human-monitor-command, arguments: { command-line: 'qemu-io disk0 "write -P 0xab 0 64k"' } }
  - { name: roll back, snapshot: { load: before } }
  - name: the write is gone
    qmp: { execute: human-monitor-command, arguments: { command-line: 'qemu-io disk0 "read -P 0 0 64k"' }, expect: "" }
  - { name: full backup, backup: { disk: disk0, to: "${dir}/\${{ vm.name }}-full.qcow2" } }
  - name: change a cluster
    qmp: { execute: human-monitor-command, arguments: { command-line: 'qemu-io disk0 "write -P 0xcd 1M 64k"' } }
  - { name: incremental, backup: { to: "${dir}/\${{ vm.name }}-inc.qcow2", sync: incremental } }
  - { name: same file again, backup: { to: "${dir}/\${{ vm.name }}-inc.qcow2", sync: incremental }, continue-on-error: true }
  - { name: add a port, hotplug: { add: { driver: virtserialport, id: port1, bus: vs.0, name: org.example.1 } } }
  - { name: remove it, hotplug: { remove: port1 } }
  - { name: delete the snapshot, snapshot: { delete: before } }
finally:
  - { name: stop, stop: { grace: 0s } }
`,
    );
    assert.equal(journal.verdict, "pass", journal.reason);
    const duplicate = target(journal, "save again", "a");
    assert.equal(duplicate.status, "failed");
    assert.match(duplicate.error!, /Snapshot 'before' already exists/);
    assert.match(target(journal, "same file again", "a").error!, /exists: choose a new file/);
    const incremental = target(journal, "incremental", "a").output as {
      bytes: number;
      base: string;
    };
    assert.equal(incremental.bytes, 65536, "only the changed cluster");
    assert.equal(incremental.base, `${dir}/a-full.qcow2`);
    // Valid images: qemu-img check, and the newest file opens as the whole disk.
    for (const file of ["a-full.qcow2", "a-inc.qcow2"]) {
      const check = await new Deno.Command("qemu-img", { args: ["check", `${dir}/${file}`] })
        .output();
      assert.ok(check.success, new TextDecoder().decode(check.stdout));
    }
    const read = await new Deno.Command("qemu-io", {
      args: ["-c", "read -P 0xcd 1M 64k", "-c", "read -P 0 0 64k", `${dir}/a-inc.qcow2`],
    }).output();
    const said = new TextDecoder().decode(read.stdout);
    assert.doesNotMatch(said, /verification failed/i);
    assert.match(said, /read 65536\/65536 bytes at offset 1048576/);
    const deleted = target(journal, "remove it", "a").output;
    assert.deepEqual(deleted, { removed: "port1" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
