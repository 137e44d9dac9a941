/**
 * libvirt-managed VMs (issue 15): a recipe attaches to a domain that a
 * real libvirtd (started by the test, without systemd) runs, sees
 * GUEST_PANICKED through libvirt's QMP passthrough, and resets it; a Linux
 * domain's guest agent answers through `virsh qemu-agent-command`.
 */

import assert from "node:assert/strict";
import { parseRecipe, runRecipe } from "../mod.ts";
import { canUseLibvirt, testLibvirt } from "./_libvirt.ts";
import { corral, recipeFile } from "./_cli.ts";

// libvirt runs the system's QEMU whatever CORRAL_QEMU says: .ci/run's pass with the next QEMU
// build would repeat the very same test (CORRAL_CI_REPEAT), so it does not.
const ignore = !canUseLibvirt() || Deno.env.get("CORRAL_CI_REPEAT") === "1";

Deno.test({
  name: "libvirt: domains that a real libvirtd runs, driven by recipes",
  ignore,
  async fn(t) {
    await using libvirt = await testLibvirt();
    await t.step(
      "a recipe attaches to a domain, sees GUEST_PANICKED, resets it; plan states the caveat",
      async () => {
        const domain = await libvirt.domain("tiny");
        const text = `recipe: 1
name: libvirt-drill
vms:
  db1: { attach: "libvirt:${libvirt.uri}#${domain}", groups: [db] }
steps:
  - { name: running, wait-status: { status: running } }
  - { name: crash, id: crash, nmi: {} }
  - { name: panic seen, wait-event: { event: GUEST_PANICKED, match: { action: pause } } }
  - { name: libvirt saw it too, wait-status: { status: guest-panicked } }
  - { name: recover, id: back, reset: {} }
  - { name: running again, wait-status: { status: running } }
metrics:
  recovery: { from: crash.start, to: back.end }
`;
        const file = await recipeFile(text);
        try {
          const plan = await corral(["plan", file]);
          assert.match(
            plan.out,
            /db1 +attach libvirt:qemu:\/\/\/system#corral-t.* \(libvirt owns the monitor: it marks the domain tainted/,
          );
        } finally {
          await Deno.remove(file);
        }
        const { journal } = await runRecipe(parseRecipe(text, "l.yaml"), { seed: 1 });
        assert.equal(journal.verdict, "pass", journal.reason);
        const state = await new Deno.Command("virsh", {
          args: ["-c", libvirt.uri, "domstate", domain],
          stdout: "piped",
        }).output();
        assert.equal(new TextDecoder().decode(state.stdout).trim(), "running");
      },
    );

    await t.step("a Linux domain's guest agent answers through libvirt", async () => {
      const domain = await libvirt.domain("linux");
      const { journal } = await runRecipe(
        parseRecipe(
          `recipe: 1\nname: lv-agent\nvms:\n  app1: { attach: "libvirt:${libvirt.uri}#${domain}" }\n` +
            "steps:\n  - { name: agent up, wait-agent: {}, timeout: 120s }\n" +
            '  - { name: exec, agent: { exec: "uname -r; echo from-libvirt", expect: from-libvirt } }\n',
          "la.yaml",
        ),
        { seed: 1 },
      );
      assert.equal(journal.verdict, "pass", journal.reason);
      const output = journal.steps[1]!.targets[0]!.output as { stdout: string };
      assert.match(output.stdout, /cloud-amd64\nfrom-libvirt/);
    });
  },
});
