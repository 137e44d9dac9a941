/** Helpers to run the `corral` command line as a user would, in a private runtime directory. */

import { fileURLToPath } from "node:url";
import { readUntil } from "./_assert.ts";

/** The repository's root, with a trailing slash. */
export const root: string = fileURLToPath(new URL("..", import.meta.url));
/** The command line's entry point. */
export const cli = `${root}lib/cli/main.ts`;
const recorder = `${root}tests/fixtures/record_qemu.sh`;

/** How a command ended. */
export interface Outcome {
  code: number;
  out: string;
  err: string;
  qemuStarts: string[];
}

/** Options of {@linkcode corral}. */
export interface CorralOptions {
  /** The working directory. Default: the repository. */
  cwd?: string;
  /** The runtime directory to use (kept); default: a fresh one, removed afterwards. */
  runtimeDir?: string;
  /** More environment variables. */
  env?: Record<string, string>;
}

/** Run the CLI with QEMU starts recorded and a private runtime directory. */
export async function corral(args: string[], options: CorralOptions = {}): Promise<Outcome> {
  const scratch = await Deno.makeTempDir({ prefix: "corral-cli-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, ...args],
      cwd: options.cwd ?? root,
      env: {
        CORRAL_QEMU: recorder,
        // The QEMU under test (the recorder runs it): the matrix sets CORRAL_QEMU.
        CORRAL_REAL_QEMU: Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64",
        CORRAL_QEMU_LOG: `${scratch}/starts.log`,
        CORRAL_RUNTIME_DIR: options.runtimeDir ?? `${scratch}/run`,
        NO_COLOR: "1",
        ...options.env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const starts = await Deno.readTextFile(`${scratch}/starts.log`).catch(() => "");
    return {
      code,
      out: new TextDecoder().decode(stdout),
      err: new TextDecoder().decode(stderr),
      qemuStarts: starts.split("\n").filter(Boolean),
    };
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** A recipe in a temporary file. */
export async function recipeFile(text: string): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: "corral-recipe-", suffix: ".yaml" });
  await Deno.writeTextFile(file, text);
  return file;
}

/** A `corral run` started in its own process group, as a shell starts a job on a terminal. */
export interface RunningCorral {
  /** The corral process (and its process group). */
  child: Deno.ChildProcess;
  /** What it printed so far, read on demand. */
  until(marker: string): Promise<string>;
  /** Read stdout to its end. */
  rest(): Promise<string>;
}

/** Start `corral run …` in its own process group with `runtimeDir`. */
export function startCorral(args: string[], runtimeDir: string): RunningCorral {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    cwd: root,
    env: { CORRAL_RUNTIME_DIR: runtimeDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  return {
    child,
    async until(marker) {
      if (!seen.includes(marker)) seen += await readUntil(reader, marker, 60_000, marker);
      return seen;
    },
    async rest() {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        seen += chunk.value;
      }
      return seen;
    },
  };
}

/** Run `corral ARGS` with `input` on its standard input (not a terminal), as a script does. */
export async function corralWithInput(
  args: string[],
  input: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    cwd: root,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}
