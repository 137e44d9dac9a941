/**
 * `corral shell TARGET…`: the interactive QMP shell on a terminal (line
 * editing, persistent history, Tab completion from the live schema, events
 * printed above the prompt without disturbing the line being typed, Ctrl-C
 * cancelling the command in flight, Ctrl-D leaving), or a script read from
 * standard input that stops at the first error with exit code 1.
 *
 * @module
 */

import readline from "node:readline";
import process from "node:process";
import { resolveTarget, Shell, type ShellOutput, type ShellSession } from "../shell/shell.ts";
import { AgentShell } from "../shell/agent_shell.ts";

/** Options of {@linkcode shellMain}. */
export interface ShellFlags {
  /** Every line is a human monitor command. */
  hmp: boolean;
  /** Keep a transcript here. */
  log: string | undefined;
  /** The target is a guest agent's socket (qemu-ga), not a QMP monitor. */
  agent: boolean;
}

const HISTORY_SIZE = 1000;

/** Run the shell on `targets`; resolves to the exit code. */
export async function shellMain(targets: string[], flags: ShellFlags): Promise<number> {
  const interactive = Deno.stdin.isTerminal();
  const transcript = flags.log
    ? await Deno.open(flags.log, { write: true, create: true, append: true, mode: 0o600 })
    : undefined;
  const encoder = new TextEncoder();
  const keep = (text: string) => transcript?.writeSync(encoder.encode(`${text}\n`));
  let rl: readline.Interface | undefined;
  // On a terminal everything is printed above the prompt, which is then redrawn with the line
  // being typed untouched: an event, or the answer to a command typed ahead, never mixes with it.
  const above = (text: string, stream: "out" | "err" = "out") => {
    keep(text);
    if (!rl) return stream === "out" ? console.log(text) : console.error(text);
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    (stream === "out" ? process.stdout : process.stderr).write(`${text}\n`);
    rl.prompt(true);
  };
  const output: ShellOutput = {
    print: (text) => above(text),
    error: (text) => above(text, "err"),
    notice: (text) => above(text),
  };
  let shell: ShellSession;
  try {
    if (flags.agent) {
      if (targets.length !== 1 || !/^(unix|tcp):/.test(targets[0]!)) {
        throw new Error("--agent takes one guest agent socket: unix:/path or tcp:host:port");
      }
      shell = await AgentShell.open(targets[0]!, { output, pretty: interactive });
    } else {
      const resolved = await Promise.all(targets.map((t, i) => resolveTarget(t, i)));
      shell = await Shell.open(resolved, { output, pretty: interactive, hmp: flags.hmp });
    }
  } catch (error) {
    console.error(`corral shell: ${(error as Error).message}`);
    transcript?.close();
    return 2;
  }
  try {
    if (!interactive) return await script(shell, keep);
    output.print(
      `corral shell: ${
        shell.names.join(", ")
      }. Tab completes, help lists what you can type, Ctrl-D leaves.`,
    );
    return await repl(shell, keep, (made) => rl = made);
  } finally {
    await shell.close();
    transcript?.close();
  }
}

/** Lines from standard input, one after another; the first error ends it with 1. */
async function script(shell: ShellSession, keep: (text: string) => void): Promise<number> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let partial = "";
  for await (const chunk of lines) {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    for (const line of parts) {
      keep(`> ${line}`);
      if (!await shell.run(line)) return 1;
    }
  }
  keep(`> ${partial}`);
  return await shell.run(partial) ? 0 : 1;
}

async function repl(
  shell: ShellSession,
  keep: (text: string) => void,
  expose: (rl: readline.Interface) => void,
): Promise<number> {
  const historyFile = await historyPath();
  const history = await Deno.readTextFile(historyFile).then(
    (text) => text.split("\n").filter(Boolean).reverse().slice(0, HISTORY_SIZE),
    () => [] as string[],
  );
  const rl = readline.createInterface(
    {
      input: process.stdin,
      output: process.stdout,
      prompt: "qmp> ",
      history,
      historySize: HISTORY_SIZE,
      completer: (line: string) => shell.complete(line),
    } as readline.ReadLineOptions & { history: string[] },
  );
  expose(rl);
  let running: AbortController | undefined;
  let closing = false;
  let queue = Promise.resolve();
  const done = Promise.withResolvers<number>();
  rl.on("SIGINT", () => {
    if (running) running.abort(new Error("cancelled"));
    else {
      // Nothing in flight: drop the line being typed, as a shell does.
      process.stdout.write("^C\n");
      (rl as unknown as { line: string }).line = "";
      rl.prompt();
    }
  });
  rl.on("line", (line) => {
    keep(`qmp> ${line}`);
    if (line.trim()) {
      Deno.writeTextFile(historyFile, `${line}\n`, { append: true, mode: 0o600 }).catch(() => {});
    }
    queue = queue.then(async () => {
      if (closing) return;
      running = new AbortController();
      try {
        await shell.run(line, running.signal);
      } finally {
        running = undefined;
        rl.prompt(true); // keeps what was typed meanwhile, and the cursor in it
      }
    });
  });
  rl.on("close", () => {
    // Ctrl-D leaves: what is still running is cancelled, not waited out, and nothing more runs.
    closing = true;
    running?.abort(new Error("cancelled"));
    queue.then(() => done.resolve(0));
  });
  rl.prompt();
  return await done.promise;
}

/** `$XDG_STATE_HOME/corral/shell_history`, else `~/.local/state/corral/shell_history`. */
async function historyPath(): Promise<string> {
  const base = Deno.env.get("XDG_STATE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.local/state`;
  await Deno.mkdir(`${base}/corral`, { recursive: true, mode: 0o700 });
  return `${base}/corral/shell_history`;
}
