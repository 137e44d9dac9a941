/** A program on a real pseudo-terminal, through tmux: type keys, read the screen. */

import { delay } from "../lib/_async.ts";

/** A tmux session running one command. */
export interface Terminal extends AsyncDisposable {
  /** Send keys as tmux names them (`Tab`, `Enter`, `C-c`) or literal text. */
  keys(...keys: string[]): Promise<void>;
  /** Type text literally. */
  type(text: string): Promise<void>;
  /** The screen now. */
  screen(): Promise<string>;
  /** Everything the terminal showed, scrollback included. */
  history(): Promise<string>;
  /** Poll the screen until `test` holds (within `ms`), and return it. */
  until(test: (screen: string) => boolean, what: string, ms?: number): Promise<string>;
}

async function tmux(socket: string, args: string[]): Promise<string> {
  const { stdout, success, stderr } = await new Deno.Command("tmux", {
    args: ["-L", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(stderr)}`);
  return new TextDecoder().decode(stdout);
}

/** Start `command` (a shell command line) in a terminal of `size` (default 120×30). */
export async function terminal(
  command: string,
  env: Record<string, string> = {},
  size: { width: number; height: number } = { width: 120, height: 30 },
): Promise<Terminal> {
  const socket = `corral-test-${crypto.randomUUID().slice(0, 8)}`;
  const exports = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(" ");
  await tmux(socket, [
    "new-session",
    "-d",
    "-x",
    String(size.width),
    "-y",
    String(size.height),
    `${exports ? `env ${exports} ` : ""}${command}; echo "[exit $?]"; sleep 600`,
  ]);
  const screen = () => tmux(socket, ["capture-pane", "-p"]);
  return {
    keys: async (...keys) => void await tmux(socket, ["send-keys", ...keys]),
    type: async (text) => void await tmux(socket, ["send-keys", "-l", text]),
    screen,
    history: () => tmux(socket, ["capture-pane", "-p", "-S", "-"]),
    async until(test, what, ms = 20_000) {
      const end = performance.now() + ms;
      for (;;) {
        const text = await screen();
        if (test(text)) return text;
        if (performance.now() > end) throw new Error(`the screen never showed ${what}:\n${text}`);
        await delay(50);
      }
    },
    async [Symbol.asyncDispose]() {
      await tmux(socket, ["kill-server"]).catch(() => {});
    },
  };
}
