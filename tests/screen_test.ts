/**
 * Screens (issue 23): a VM with `display: true` has one; `screenshot` writes
 * it into the report, a failed step takes one by itself, keys and typed
 * text reach the guest, and report.html shows each at its moment.
 */

import assert from "node:assert/strict";
import { parseRecipe, planRecipe, runRecipe } from "../mod.ts";
import { hasChromium, renderPage } from "./_chromium.ts";

const PNG = [0x89, 0x50, 0x4e, 0x47];

Deno.test("screen: screenshots into the report (asked, and when a step failed); keys and typed text reach the guest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-screen-" });
  try {
    const recipe = parseRecipe(
      `recipe: 1
name: screens
vms: { a: { display: true } }
steps:
  - { name: booted, console: { wait: READY } }
  - { name: look, screenshot: { name: booted } }
  - { name: look again, screenshot: {} }
  - { name: press, keys: ctrl-alt-delete }
  - { name: write, type: "Hi there!\\n" }
  - { name: on purpose, fail: broken, continue-on-error: true }
`,
      "screens.yaml",
    );
    const { journal } = await runRecipe(recipe, { seed: 1, reportDir: dir });
    assert.equal(journal.verdict, "pass", journal.reason);
    const target = (step: string) => journal.steps.find((s) => s.name === step)!.targets[0]!;
    assert.deepEqual(target("look").output, { screenshot: "vms/a/booted.png" });
    assert.deepEqual(target("look again").output, { screenshot: "vms/a/screen-1.png" });
    assert.deepEqual(target("write").output, { typed: 10 });
    assert.equal(target("on purpose").screenshot, "vms/a/failed-1.png");
    for (const file of ["booted.png", "screen-1.png", "failed-1.png"]) {
      const bytes = await Deno.readFile(`${dir}/vms/a/${file}`);
      assert.deepEqual([...bytes.slice(0, 4)], PNG, file);
    }
    // QEMU took each press: one send-key for the combination, one per character (shift held
    // with the key for capitals and symbols).
    const qmp = await Deno.readTextFile(`${dir}/vms/a/qmp.log`);
    assert.equal(qmp.match(/"execute":"send-key"/g)?.length, 1 + 10);
    assert.match(
      qmp,
      /"keys":\[\{"type":"qcode","data":"ctrl"\},\{"type":"qcode","data":"alt"\},\{"type":"qcode","data":"delete"\}\]/,
    );
    assert.match(qmp, /"keys":\[\{"type":"qcode","data":"shift"\},\{"type":"qcode","data":"h"\}\]/);
    assert.match(qmp, /"keys":\[\{"type":"qcode","data":"shift"\},\{"type":"qcode","data":"1"\}\]/);
    if (hasChromium()) {
      const { dom } = await renderPage(`file://${dir}/report.html`);
      assert.match(dom, /<body[^>]*data-errors="0"/);
      assert.equal(dom.match(/<a class="screen" href="vms\/a\/[\w-]+\.png"/g)?.length, 3);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const blind = "recipe: 1\nname: x\nvms: { b: {} }\nsteps:\n  - { name: s, screenshot: {} }\n";
  assert.throws(
    () => planRecipe(parseRecipe(blind, "x.yaml"), 1),
    /screenshot cannot run on b: it has no screen \(give it display: true\)/,
  );
});
