/**
 * Memory probe, run in a fresh process by the bench: connect to the given
 * QMP sockets with one client kind, and print the process RSS after a full GC.
 * `deno run … bench/_memory.ts raw|corral SOCKET…`; with no socket, the
 * runtime's base.
 */
import { Vm } from "../mod.ts";
import { RawQmp } from "./_raw.ts";

const [kind, ...paths] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
const keep: unknown[] = [];
if (kind === "raw") keep.push(...await Promise.all(paths.map((path) => RawQmp.connect(path))));
else {
  const vms = await Promise.all(paths.map((path) => Vm.connect(`unix:${path}`)));
  // Touch the command path too, so what a used VM holds is counted.
  await Promise.all(vms.map((vm) => vm.execute("query-status")));
  keep.push(...vms);
}
for (let i = 0; i < 3; i++) gc?.();
await new Promise((resolve) => setTimeout(resolve, 100));
gc?.();
console.log(JSON.stringify({ ...Deno.memoryUsage(), clients: keep.length }));
Deno.exit(0);
