/** A process as `ps` shows it. */
export interface ProcessInfo {
  /** The state letter: R, S, D, T, Z, … */
  state: string;
  /** The command line. */
  args: string;
}

/**
 * Every process on the machine, by pid, from `ps` (Deno refuses reads of
 * `/proc/PID/*` without --allow-all; `ps` needs only --allow-run).
 */
export async function processes(): Promise<Map<number, ProcessInfo>> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-eo", "pid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  const table = new Map<number, ProcessInfo>();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (match && !match[2]!.startsWith("Z")) {
      table.set(Number(match[1]), { state: match[2]!, args: match[3]! });
    }
  }
  return table;
}
