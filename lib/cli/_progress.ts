import type { ProgressEvent } from "../recipe/run.ts";
import { showDuration } from "../recipe/duration.ts";

/** Where a live display writes, and how. */
export interface LiveOptions {
  /** Write text as it is (no newline added). */
  write(text: string): void;
  /** Color the lines. */
  color: boolean;
  /** The terminal's width. */
  columns: number;
  /** How often the running line is redrawn, in ms. Default 250. */
  every?: number;
}

interface Running {
  step: string;
  targets: string[];
  started: number;
  done: Map<string, { status: string; ms: number; error?: string }>;
}

/**
 * Live progress on a terminal: one line per running step, redrawn in place
 * (done, failed and running of N VMs, elapsed, the slowest VM still
 * running), then a final line per step with what failed on which VM; other
 * lines print above it.
 */
export class LiveProgress {
  #options: LiveOptions;
  #running: Running | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #drawn = false;

  /** A display that writes through `options.write`. */
  constructor(options: LiveOptions) {
    this.#options = options;
  }

  /** Take a progress event. */
  event(event: ProgressEvent): void {
    if (event.type === "step-start") {
      this.#finish();
      this.#running = {
        step: event.step,
        targets: event.targets,
        started: performance.now(),
        done: new Map(),
      };
      this.#timer = setInterval(() => this.#draw(), this.#options.every ?? 250);
      this.#draw();
    } else if (event.type === "vm-done" && this.#running?.step === event.step) {
      this.#running.done.set(event.vm, event);
      this.#draw();
    } else if (event.type === "step-end" && this.#running?.step === event.step) this.#finish();
  }

  /** Print a line above the live one. */
  line(text: string): void {
    this.#clear();
    this.#options.write(`${text}\n`);
    this.#draw();
  }

  /** End the display (the last step's line stays). */
  stop(): void {
    this.#finish();
  }

  #finish(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const running = this.#running;
    if (!running) return;
    this.#running = undefined;
    this.#clear();
    const failed = [...running.done].filter(([, d]) => d.status !== "ok");
    const slow = [...running.done].sort((a, b) => b[1].ms - a[1].ms)[0];
    const elapsed = showDuration(performance.now() - running.started) +
      (slow && running.done.size > 1 ? `, slowest ${slow[0]} ${showDuration(slow[1].ms)}` : "");
    const total = running.targets.length;
    const ok = total - failed.length;
    const head = failed.length === 0
      ? this.#paint(32, `✓ ${running.step}`) +
        `  ${total === 0 ? "no VM" : `${ok}/${total} ok`}  ${elapsed}`
      : this.#paint(31, `✗ ${running.step}`) +
        `  ${ok}/${total} ok, ${failed.length} not  ${elapsed}`;
    this.#options.write(`${this.#fit(head)}\n`);
    for (const [vm, done] of failed) {
      this.#options.write(`    ${this.#paint(31, vm)} ${done.status}: ${done.error ?? ""}\n`);
    }
  }

  #draw(): void {
    const running = this.#running;
    if (!running) return;
    const now = performance.now();
    const total = running.targets.length;
    const failed = [...running.done.values()].filter((d) => d.status !== "ok").length;
    const busy = running.targets.filter((vm) => !running.done.has(vm));
    const slowest = busy.length > 0
      ? `  waiting on ${busy.slice(0, 3).join(", ")}${
        busy.length > 3 ? ` (+${busy.length - 3})` : ""
      }`
      : "";
    const text = `▶ ${running.step}  ${running.done.size - failed}/${total} done` +
      (failed ? `, ${failed} failed` : "") +
      `, ${busy.length} running  ${showDuration(now - running.started)}${slowest}`;
    this.#clear();
    this.#options.write(this.#paint(1, this.#fit(text)));
    this.#drawn = true;
  }

  /** Erase the live line (carriage return, erase the line). */
  #clear(): void {
    if (this.#drawn) this.#options.write("\r\x1b[2K");
    this.#drawn = false;
  }

  #fit(text: string): string {
    const width = Math.max(20, this.#options.columns - 1);
    return [...text].length > width ? [...text].slice(0, width - 1).join("") + "…" : text;
  }

  #paint(code: number, text: string): string {
    return this.#options.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
}
