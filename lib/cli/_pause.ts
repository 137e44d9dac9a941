/**
 * `corral run --pause-on-failure`: at the first failing step the lab stays
 * exactly as it is — VMs running, faults still active — and this corral,
 * which holds the VMs' sockets, lets you look inside from the terminal
 * until you say go on (Enter: rescue, finally) or abort (`q`).
 *
 * @module
 */

import { printable } from "../_text.ts";
import type { FailurePause } from "../recipe/run_options.ts";
import type { Vm } from "../vm/vm.ts";
import { sshWay } from "./_ssh_way.ts";

const HELP = `  exec VM COMMAND…     run a command in VM through its guest agent
  qmp VM COMMAND [JSON] a QMP command (arguments as JSON)
  console VM           the last lines VM's console printed
  ssh VM               an ssh command line into VM (builtin:debian), to run in another terminal
  status               every VM's run state
  Enter                go on: rescue and finally run, the verdict stands
  q                    abort the steps (finally still runs)`;

/** The `onFailure` of a run that pauses at its first failure, talking on this terminal. */
export function pauseAtFailure(
  print: (line: string) => void,
  signal: AbortSignal,
): (pause: FailurePause) => Promise<"continue" | "abort"> {
  return async ({ record, failed, lab }) => {
    print(`\npaused: step '${record.name}' failed on ${failed.join(", ")}:`);
    for (const target of record.targets.filter((t) => failed.includes(t.vm))) {
      print(`  ${target.vm}: ${target.error ?? target.status}`);
    }
    print("The lab is left as it was (VMs running, faults still active). Commands:\n" + HELP);
    const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    try {
      for (;;) {
        Deno.stdout.writeSync(new TextEncoder().encode("paused> "));
        let newline = pending.indexOf("\n");
        while (newline < 0) {
          // Ctrl-C (the run's signal) ends the pause as q does.
          const stopped = new Promise<"stop">((resolve) =>
            signal.addEventListener("abort", () => resolve("stop"), { once: true })
          );
          const read = await Promise.race([reader.read(), stopped]);
          if (read === "stop" || signal.aborted) return "abort";
          const { value, done } = read;
          if (done) return "continue"; // the terminal went: go on
          pending += value;
          newline = pending.indexOf("\n");
        }
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line === "") return "continue";
        if (line === "q") return "abort";
        await answer(line, (name) => lab.vm(name), lab.names, print).catch((error) =>
          print(`error: ${(error as Error).message}`)
        );
      }
    } finally {
      reader.releaseLock();
    }
  };
}

async function answer(
  line: string,
  vm: (name: string) => Vm,
  names: readonly string[],
  print: (line: string) => void,
): Promise<void> {
  const [word, name, ...rest] = line.split(/\s+/);
  if (word === "status") {
    for (const each of names) print(`  ${each}: ${(await vm(each).status()).status}`);
    return;
  }
  if (!name || !names.includes(name)) {
    print(
      word && ["exec", "qmp", "console", "ssh"].includes(word)
        ? `give a VM of the lab: ${names.join(", ")}`
        : HELP,
    );
    return;
  }
  const target = vm(name);
  if (word === "exec") {
    const result = await target.agent.exec(rest.join(" "), { timeout: 60_000 });
    print(printable(result.stdout + result.stderr).trimEnd() + `\n  (exit ${result.exitCode})`);
  } else if (word === "qmp") {
    const [command, ...json] = rest;
    const args = json.length ? JSON.parse(json.join(" ")) : undefined;
    print(JSON.stringify(await target.executeUntyped(command ?? "", args), null, 2));
  } else if (word === "console") {
    print(target.console.history().slice(-20).map((l) => `  ${printable(l.text)}`).join("\n"));
  } else if (word === "ssh") {
    const way = await sshWay(target, target.dir!);
    print(typeof way === "string" ? way : `ssh ${way.map((w) => JSON.stringify(w)).join(" ")}`);
  } else print(HELP);
}
