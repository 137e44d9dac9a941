/**
 * No QEMU outlives its parent: every launched process is recorded here and
 * killed when the program exits normally, throws, or gets SIGINT/SIGTERM.
 */

interface Reapable {
  /** Kill at once, synchronously. */
  killNow(): void;
}

const live = new Set<Reapable>();
let signalsHandled = true;
let installed = false;

/** A normal end, an uncaught error, an unhandled rejection. */
const EXIT_EVENTS = ["unload", "error", "unhandledrejection"] as const;
const SIGNALS = [["SIGINT", 130], ["SIGTERM", 143]] as const;
const onSignal = SIGNALS.map(([signal, code]) => [signal, () => reapAndExit(code)] as const);

function reapAll(): void {
  for (const process of live) process.killNow();
  live.clear();
}

function reapAndExit(code: number): void {
  reapAll();
  Deno.exit(code);
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const event of EXIT_EVENTS) globalThis.addEventListener(event, reapAll);
  if (signalsHandled) {
    for (const [signal, handler] of onSignal) Deno.addSignalListener(signal, handler);
  }
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const event of EXIT_EVENTS) globalThis.removeEventListener(event, reapAll);
  if (signalsHandled) {
    for (const [signal, handler] of onSignal) Deno.removeSignalListener(signal, handler);
  }
}

/** Watch `process` until {@linkcode release} is called for it. */
export function track(process: Reapable): void {
  live.add(process);
  install();
}

/** Stop watching `process` (it exited, or was stopped on purpose). */
export function release(process: Reapable): void {
  live.delete(process);
  if (live.size === 0) uninstall();
}

/**
 * Whether corral itself handles SIGINT and SIGTERM by killing every QEMU it
 * launched and exiting (130 / 143). A program that runs its own cleanup on
 * Ctrl-C (as the recipe runner does) turns this off and calls
 * {@linkcode killAllLaunched} when it is done.
 */
export function handleExitSignals(enabled: boolean): void {
  if (enabled === signalsHandled) return;
  const wasInstalled = installed;
  uninstall();
  signalsHandled = enabled;
  if (wasInstalled) install();
}

/** Kill every QEMU this program launched that is still running. */
export function killAllLaunched(): void {
  reapAll();
  uninstall();
}

/**
 * Let every QEMU launched so far outlive this program (as `--keep` does):
 * they are no longer killed at exit.
 */
export function releaseAllLaunched(): void {
  live.clear();
  uninstall();
}
