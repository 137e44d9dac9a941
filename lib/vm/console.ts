/**
 * The serial console of a launched VM: lines as they come, waits for a
 * pattern with a deadline (and patterns that fail the wait at once), input.
 *
 * @module
 */

import { ConnectionClosedError, ConsoleError, TimeoutError } from "../errors.ts";
import { deadline } from "../_async.ts";
import { formatMs } from "../_text.ts";
import { Journal } from "../_journal.ts";
import { DEFAULT_TIMEOUT } from "../qmp/journal.ts";

/** One line the guest printed, without its line ending. */
export interface ConsoleLine {
  /** The text of the line. */
  text: string;
  /** When it was read, in milliseconds since the epoch. */
  time: number;
  /** The console's sequence number: 1 for the first line. */
  seq: number;
}

/** A string (found anywhere in a line) or a regular expression. */
export type LinePattern = string | RegExp;

/** Options of {@linkcode Console.prototype.waitFor}. */
export interface ConsoleWaitOptions {
  /** Deadline in milliseconds. Default 30,000. */
  timeout?: number;
  /** Lines that fail the wait at once, e.g. `/panic|Oops/`. */
  failOn?: LinePattern | readonly LinePattern[];
  /**
   * Only lines after this cursor count. Default: the cursor at the latest
   * action on the VM (a command that changes state, or input sent here), so
   * a line printed in answer still counts when it came before the wait.
   */
  since?: number;
  /** Abandons the wait. */
  signal?: AbortSignal;
  /**
   * Also match the line being printed, before its end of line: for prompts
   * such as `login: ` that end without one. Its `seq` is then that of the
   * last complete line. Default `false`.
   */
  prompt?: boolean;
}

/** Options of {@linkcode Console.prototype.exec}. */
export interface ConsoleExecOptions extends Omit<ConsoleWaitOptions, "since"> {
  /** The line that ends the exchange. Default: the guest's echo of the input line. */
  expect?: LinePattern;
}

/** The default number of console lines kept. */
export const DEFAULT_CONSOLE_LINES = 2000;

/** The longest console line kept whole, in UTF-16 units; a longer one is cut into lines this long. */
export const MAX_CONSOLE_LINE = 64 * 1024;

const encoder = new TextEncoder();

/**
 * A serial console over a unix socket (QEMU's `-chardev socket`). It reads
 * all the time, so a chatty guest never blocks on a full buffer.
 *
 * @example
 * ```ts
 * import { launch } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using vm = await launch({ name: "echo" });
 * await vm.console.waitFor("READY");
 * const reply = await vm.console.exec("hello", { expect: /unknown command/ });
 * assert.match(reply.text, /try panic/);
 * ```
 */
export class Console {
  #conn: Deno.Conn;
  #vm: string;
  #journal: Journal<ConsoleLine>;
  /** The unfinished line, in the pieces it came in (joined only when needed). */
  #pieces: string[] = [];
  #pieceLength = 0;
  #reading: Promise<void>;
  #mark = 0;
  #closedByUs = false;
  #promptWatchers = new Set<() => void>();

  /**
   * Runs whenever input is sent; the owning VM uses it to move its action
   * mark, so that its event waits also start after the input.
   */
  onSend: () => void = () => {};

  private constructor(conn: Deno.Conn, vm: string) {
    this.#conn = conn;
    this.#vm = vm;
    this.#journal = new Journal<ConsoleLine>({
      capacity: DEFAULT_CONSOLE_LINES,
      vm,
      timeout: DEFAULT_TIMEOUT,
      kind: "console lines",
      context: () => this.describeLastLine(),
    });
    this.#reading = this.#read();
  }

  /** Open the console at the unix socket `path` of the VM named `vm`. */
  static async connect(path: string, vm: string): Promise<Console> {
    const conn = await Deno.connect({ transport: "unix", path });
    return new Console(conn, vm);
  }

  /** The newest complete line, if any. */
  get lastLine(): string | undefined {
    return this.#journal.newest?.text;
  }

  /** The cursor now: the sequence number of the newest line. */
  cursor(): number {
    return this.#journal.cursor;
  }

  /** Make later default waits count only lines from now on. */
  markAction(): void {
    this.#mark = this.#journal.cursor;
  }

  /** The kept lines after `since` (default 0: all kept). */
  history(since = 0): ConsoleLine[] {
    return this.#journal.history(() => true, since);
  }

  /** Lines as they arrive, after `since` (default: the latest action). */
  lines(
    options: { since?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<ConsoleLine, void, undefined> {
    return this.#journal.entries(() => true, {
      since: options.since ?? this.#mark,
      signal: options.signal,
    });
  }

  /**
   * The first line that matches `pattern`.
   *
   * @throws {ConsoleError} A line matched `failOn` first.
   * @throws {TimeoutError} No match before the deadline; the message shows the last line.
   * @throws {ConnectionClosedError} The console closed (QEMU exited) first.
   */
  async waitFor(pattern: LinePattern, options: ConsoleWaitOptions = {}): Promise<ConsoleLine> {
    const failOn = [options.failOn ?? []].flat();
    const accepts = (line: ConsoleLine) =>
      matches(line.text, pattern) || failOn.some((bad) => matches(line.text, bad));
    const what = `console line matching ${show(pattern)}`;
    const wait = {
      since: options.since ?? this.#mark,
      timeout: options.timeout,
      signal: options.signal,
    };
    const line = options.prompt
      ? await this.#waitWithPrompt(pattern, accepts, what, wait)
      : await this.#journal.waitFor(accepts, what, wait);
    const bad = failOn.find((bad) => matches(line.text, bad));
    if (bad !== undefined && !matches(line.text, pattern)) {
      throw new ConsoleError(
        `the console printed ${JSON.stringify(line.text)}, which matches ` +
          `failOn ${show(bad)}, while waiting for ${show(pattern)}`,
        { vm: this.#vm, line: line.text },
      );
    }
    return line;
  }

  /** Send text to the guest as it is (add `\r` to end a line). */
  async send(text: string): Promise<void> {
    this.markAction();
    this.onSend();
    const bytes = encoder.encode(text);
    for (let written = 0; written < bytes.length;) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /**
   * Send `line` and a carriage return, wait for the guest's echo of it, and
   * then, with `expect`, for a later line that matches: the echo itself
   * never satisfies `expect` (`exec: "restart && echo OK", expect: OK` waits
   * for the command's own OK). Both waits share one deadline.
   */
  async exec(line: string, options: ConsoleExecOptions = {}): Promise<ConsoleLine> {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const end = performance.now() + timeout;
    await this.send(`${line}\r`);
    // The echo wait stops at its deadline too: nothing keeps reading lines for it afterwards.
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const echo = await deadline(this.#echo(line, signal), timeout, {
      signal: options.signal,
      onTimeout: () => {
        stop.abort();
        return new TimeoutError(
          `no echo of ${JSON.stringify(line)} within ${
            formatMs(timeout)
          }${this.describeLastLine()}`,
          { vm: this.#vm, timeout },
        );
      },
    }).finally(() => stop.abort());
    if (options.expect === undefined) return echo;
    return await this.waitFor(options.expect, {
      ...options,
      since: echo.seq,
      timeout: Math.max(0, end - performance.now()),
    });
  }

  /**
   * The line that ends the guest's echo of `typed`. A shell wraps a long
   * echo over several lines (busybox at 80 columns) and may add terminal
   * escapes: the lines since the input are joined, escapes removed, until
   * they hold the typed text.
   */
  async #echo(typed: string, signal: AbortSignal): Promise<ConsoleLine> {
    const wanted = typed.replace(/\s+/g, "");
    let joined = "";
    for await (const line of this.#journal.entries(() => true, { since: this.#mark, signal })) {
      // deno-lint-ignore no-control-regex
      joined += line.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\s+/g, "");
      if (joined.includes(wanted)) return line;
      joined = joined.slice(-wanted.length * 2);
    }
    throw new ConnectionClosedError("the console closed before the echo", { vm: this.#vm });
  }

  /** Close the console connection (the guest keeps running). */
  async close(): Promise<void> {
    if (!this.#closedByUs) {
      this.#closedByUs = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed by QEMU.
      }
    }
    await this.#reading;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    let cause: unknown;
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#take(decoder.decode(buffer.subarray(0, n), { stream: true }));
      }
    } catch (error) {
      if (!this.#closedByUs) cause = error;
    }
    this.#take(decoder.decode());
    if (this.#pieceLength > 0) this.#take("\n");
    const quiet = this.#closedByUs;
    this.#journal.close(
      new ConnectionClosedError(
        quiet
          ? `the console was closed by the client`
          : `the serial console closed (QEMU exited)${this.describeLastLine()}`,
        { vm: this.#vm, cause },
      ),
      quiet,
    );
    if (!this.#closedByUs) {
      this.#closedByUs = true;
      this.#conn.close();
    }
  }

  /**
   * Split what was read into lines. Only the new text is scanned, and a line
   * longer than {@linkcode MAX_CONSOLE_LINE} is cut there, so output without
   * line ends (progress bars, binary noise) costs linear time and bounded
   * memory.
   */
  #take(text: string): void {
    const time = Date.now();
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      this.#addPiece(text.slice(start, end), time);
      this.#endLine(time);
      start = end + 1;
    }
    this.#addPiece(text.slice(start), time);
    for (const check of this.#promptWatchers) check();
  }

  #addPiece(piece: string, time: number): void {
    while (this.#pieceLength + piece.length > MAX_CONSOLE_LINE) {
      const room = MAX_CONSOLE_LINE - this.#pieceLength;
      this.#pieces.push(piece.slice(0, room));
      this.#pieceLength += room;
      this.#endLine(time);
      piece = piece.slice(room);
    }
    if (piece === "") return;
    this.#pieces.push(piece);
    this.#pieceLength += piece.length;
  }

  #endLine(time: number): void {
    const text = trimCarriageReturns(this.#partial());
    this.#pieces = [];
    this.#pieceLength = 0;
    this.#journal.append({ text, time });
  }

  #partial(): string {
    if (this.#pieces.length > 1) this.#pieces = [this.#pieces.join("")];
    return this.#pieces[0] ?? "";
  }

  /** A line wait that also resolves when the unfinished line matches (a prompt). */
  async #waitWithPrompt(
    pattern: LinePattern,
    accepts: (line: ConsoleLine) => boolean,
    what: string,
    wait: { since: number; timeout: number | undefined; signal: AbortSignal | undefined },
  ): Promise<ConsoleLine> {
    const stop = new AbortController();
    const onAbort = () => stop.abort(wait.signal?.reason);
    wait.signal?.addEventListener("abort", onAbort, { once: true });
    const lines = this.#journal.waitFor(accepts, what, { ...wait, signal: stop.signal });
    const prompt = Promise.withResolvers<ConsoleLine>();
    const check = () => {
      const text = trimCarriageReturns(this.#partial());
      if (text !== "" && matches(text, pattern)) {
        prompt.resolve({ text, time: Date.now(), seq: this.#journal.cursor });
      }
    };
    this.#promptWatchers.add(check);
    check();
    try {
      return await Promise.race([lines, prompt.promise]);
    } finally {
      this.#promptWatchers.delete(check);
      wait.signal?.removeEventListener("abort", onAbort);
      lines.catch(() => {});
      stop.abort();
    }
  }

  /**
   * `; last console line: "…"` for error messages: the last line with
   * something on it (the two before it too), and a line the guest began
   * and did not end (a prompt such as `(initramfs) `), or that it printed
   * nothing.
   */
  describeLastLine(): string {
    const recent = this.#journal
      .history((line) => line.text.trim() !== "", Math.max(0, this.#journal.cursor - 50))
      .slice(-3).map((line) => JSON.stringify(line.text));
    const partial = trimCarriageReturns(this.#partial());
    const unfinished = partial.trim() === "" ? "" : `; unfinished line: ${JSON.stringify(partial)}`;
    if (recent.length === 0) {
      return unfinished || "; the console printed nothing";
    }
    const before = recent.length > 1 ? ` (before it: ${recent.slice(0, -1).join(" / ")})` : "";
    return `; last console line: ${recent.at(-1)}${before}${unfinished}`;
  }
}

/** `text` without its trailing `\r`s (a loop: the regex /\r+$/ is quadratic on long runs). */
function trimCarriageReturns(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x0d) end--;
  return end === text.length ? text : text.slice(0, end);
}

function matches(text: string, pattern: LinePattern): boolean {
  if (typeof pattern === "string") return text.includes(pattern);
  pattern.lastIndex = 0;
  return pattern.test(text);
}

function show(pattern: LinePattern): string {
  return typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern);
}
