/**
 * Ctrl-C and SIGTERM while corral runs recipes (`run`, `test`): the first
 * stops them gracefully, a second kills every QEMU at once.
 *
 * @module
 */

import { CorralError, ExplorationError } from "../errors.ts";
import { handleExitSignals } from "../vm/exit_cleanup.ts";
import { killAllLaunched } from "../vm/exit_cleanup.ts";

const SIGNAL_EXIT: Partial<Record<Deno.Signal, number>> = { SIGINT: 130, SIGTERM: 143 };
/** Signals closer together than this are one keypress delivered twice (measured: 0.3 ms apart). */
const SAME_KEYPRESS_MS = 200;

/**
 * Ctrl-C and SIGTERM during a run: the first aborts it (finally and cleanup
 * still run), a second kills every QEMU and exits at once.
 */
export class Interrupts {
  #controller = new AbortController();
  #first: Deno.Signal | undefined;
  #firstAt = 0;
  #handlers: [Deno.Signal, () => void][];

  /** Listen; `write` says what the first signal does (`doing`) and what a second would. */
  constructor(write: (line: string) => void, doing: string) {
    this.#handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
      const handler = () => this.#on(signal, (what) => write(`${signal}: ${what}`), doing);
      Deno.addSignalListener(signal, handler);
      return [signal, handler];
    });
  }

  /** Aborts at the first signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** 130 or 143 once interrupted. */
  get exitCode(): number | undefined {
    return this.#first && SIGNAL_EXIT[this.#first];
  }

  /** Stop listening. */
  remove(): void {
    for (const [signal, handler] of this.#handlers) Deno.removeSignalListener(signal, handler);
  }

  #on(signal: Deno.Signal, write: (line: string) => void, doing: string): void {
    // One Ctrl-C can arrive twice: from the terminal, and forwarded by `deno task`.
    if (this.#first !== undefined && performance.now() - this.#firstAt < SAME_KEYPRESS_MS) return;
    if (this.#first !== undefined) {
      killAllLaunched();
      Deno.exit(SIGNAL_EXIT[signal]);
    }
    this.#first = signal;
    this.#firstAt = performance.now();
    write(`${doing} (${signal} again kills every QEMU now)`);
    this.#controller.abort(new CorralError(`interrupted by ${signal}`));
  }
}

/**
 * Run a command's `work` as `fuzz`, `diff` and `rehearse` do: Ctrl-C and
 * SIGTERM stop it gracefully (`doing` says how), exit signals leave
 * cleanup to it meanwhile, and an {@linkcode ExplorationError} (it cannot
 * start on this recipe) is printed as `corral NAME: …` with exit code 2.
 */
export async function interruptible(
  name: string,
  write: (line: string) => void,
  doing: string,
  work: (signal: AbortSignal) => Promise<number>,
): Promise<number> {
  const interrupts = new Interrupts(write, doing);
  handleExitSignals(false);
  try {
    const code = await work(interrupts.signal);
    return interrupts.exitCode ?? code;
  } catch (error) {
    if (!(error instanceof ExplorationError)) throw error;
    console.error(`corral ${name}: ${error.message}`);
    return 2;
  } finally {
    interrupts.remove();
    handleExitSignals(true);
  }
}
