/**
 * A crash drill across six local VMs: boot them all, crash two through an
 * NMI (the guest panics through pvpanic), see GUEST_PANICKED, reboot them,
 * and measure how long each took to come back. Run: `deno task demo`.
 */
import { Lab } from "../mod.ts";

await using lab = await Lab.launch(
  Array.from({ length: 6 }, (_, i) => ({ name: `vm${i + 1}`, groups: [i < 2 ? "db" : "web"] })),
);
(await lab.all().run((vm) => vm.console.waitFor("READY"))).orThrow();
console.log(`booted ${lab.names.join(", ")}`);

const drill = await lab.select("db").run(async (vm) => {
  const start = performance.now();
  await vm.injectNmi();
  const panic = await vm.waitFor("GUEST_PANICKED", { timeout: 10_000 });
  await vm.reset();
  await vm.console.waitFor("READY", { timeout: 10_000 });
  return { action: panic.data?.action, ms: performance.now() - start };
});
const web = await lab.select("web").status();

for (const result of drill) {
  const detail = result.status === "ok"
    ? `panicked (action ${result.value.action}), back in ${result.value.ms.toFixed(0)} ms`
    : `${result.status}: ${result.error.message}`;
  console.log(`${result.vm}: ${detail}`);
}
console.log(`web tier: ${[...web.values].map(([name, s]) => `${name} ${s.status}`).join(", ")}`);
Deno.exitCode = drill.ok && web.ok ? 0 : 1;
