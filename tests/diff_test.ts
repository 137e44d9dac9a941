/**
 * `corral diff` on real QEMU builds (issue 26): the shipped crash drill run
 * on QEMU 7.2 and 10.0 differs where the builds differ — `query-status`
 * lost its `singlestep` member in QEMU 9.1 — and nowhere else; run twice
 * on one build it differs nowhere; what it cannot compare is refused.
 */

import assert from "node:assert/strict";
import { corral } from "./_cli.ts";
import { otherQemu, QEMU_BINARY, versionOf } from "./_qemu.ts";

interface Difference {
  kind: string;
  where: string;
  what: string;
}

const other = otherQemu();

/** `corral diff` of the shipped crash drill on builds `a` and `b`, three runs each. */
const crashDrillOn = (a: string, b: string, seed: string, ...more: string[]) =>
  corral([
    "diff",
    "recipes/crash-drill.yaml",
    "--qemu",
    a,
    "--qemu",
    b,
    "--repeat",
    "3",
    "--seed",
    seed,
    ...more,
  ]);

Deno.test({
  name:
    "diff: the crash drill on 7.2 and 10.0 shows the reply member 10.0 dropped, and nothing else",
  // It compares both builds whichever is under test: .ci/run's second pass does not repeat it.
  ignore: other === undefined || Deno.env.get("CORRAL_CI_REPEAT") === "1",
  async fn() {
    const older = versionOf(QEMU_BINARY)[0]! < versionOf(other!)[0]! ? "A" : "B";
    const result = await crashDrillOn(QEMU_BINARY, other!, "1", "--json");
    assert.equal(result.code, 1, result.err);
    const differences: Difference[] = JSON.parse(result.out);
    assert.deepEqual(
      differences,
      ["web1", "web2", "web3", "web4"].map((vm) => ({
        kind: "reply",
        where: `step 'web tier unharmed' on ${vm}`,
        what: `reply.singlestep: only in ${older} (boolean)`,
      })),
    );
    assert.match(result.err, /^A: .* \(QEMU emulator version/m);
    assert.match(
      result.err,
      /4 difference\(s\):\n {2}step 'web tier unharmed' on web1: reply\.singlestep/,
    );
  },
});

Deno.test({
  name: "diff: one build against itself differs nowhere",
  ignore: Deno.env.get("CORRAL_CI_REPEAT") === "1",
  async fn() {
    const result = await crashDrillOn(QEMU_BINARY, QEMU_BINARY, "2");
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, /both at once .*\n(.*\n)*no difference\n$/);
  },
});

Deno.test("diff: refuses what it cannot compare, before any VM starts", async () => {
  const one = await corral(["diff", "recipes/crash-drill.yaml", "--qemu", QEMU_BINARY]);
  assert.equal(one.code, 2);
  assert.match(one.err, /--qemu: give two builds, got 1/);
  const missing = await corral([
    "diff",
    "recipes/crash-drill.yaml",
    "--qemu",
    QEMU_BINARY,
    "--qemu",
    "/nonexistent/qemu",
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot run the QEMU build \/nonexistent\/qemu/);
  const attached = await corral(["diff", "recipes/attach.yaml", "--qemu", "a", "--qemu", "b"]);
  assert.equal(attached.code, 2);
  assert.match(attached.err, /outside-a, outside-b are attached \(a QEMU corral did not start\)/);
  assert.deepEqual([one, missing, attached].flatMap((o) => o.qemuStarts), []);
});
