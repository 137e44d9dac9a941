/**
 * A `corral shell` session, apart from the terminal: one or more VMs,
 * commands typed as `command key=value…` or raw JSON, events as they come,
 * `wait` with the no-missed-event rule, `help` from the live schema,
 * `@selector` fan-out with a result per VM, HMP, and `record` into a
 * recipe that `corral run` replays.
 *
 * @module
 */

import { stringify } from "yaml";
import { CorralError } from "../errors.ts";
import type { QmpSchema } from "../qmp/schema.ts";
import { parseDuration } from "../recipe/duration.ts";
import { Fleet } from "../vm/fleet.ts";
import { Lab } from "../vm/lab.ts";
import { listVms } from "../vm/registry.ts";
import { resolveSelector } from "../vm/select.ts";
import type { EventName, Vm } from "../vm/vm.ts";
import { complete } from "./complete.ts";
import { parseLine, type ShellLine } from "./parse.ts";

/** Where the shell writes. */
export interface ShellOutput {
  /** A result or a message, in turn with the input. */
  print(text: string): void;
  /** An error message (never a stack trace). */
  error(text: string): void;
  /** Something that happened meanwhile (an event): printed above the prompt. */
  notice(text: string): void;
}

/** Options of {@linkcode Shell.open}. */
export interface ShellOptions {
  /** Where output goes. */
  output: ShellOutput;
  /** Pretty, indented output (a terminal) rather than one compact JSON line per result. */
  pretty?: boolean;
  /** Every line is a human monitor command (`--hmp`). */
  hmp?: boolean;
  /** Deadline of each command, in ms. Default 30,000. */
  timeout?: number;
}

/** A shell target: an address, and the name it goes by. */
export interface ShellTarget {
  name: string;
  address: string;
}

/**
 * Resolve what the user named: `unix:/path` or `tcp:host:port`, or the
 * name of a VM corral started that still runs (see `corral ps`).
 *
 * @throws {CorralError} No such running VM, with what to do.
 */
export async function resolveTarget(text: string, index: number): Promise<ShellTarget> {
  if (/^(unix|tcp):/.test(text)) {
    const base = text.replace(/^unix:/, "").split("/").pop()!.replace(/\.(sock|qmp)$/, "");
    const name = /^[A-Za-z0-9][\w.-]{0,62}$/.test(base) && base !== "qmp" ? base : `vm${index + 1}`;
    return { name, address: text };
  }
  const running = (await listVms()).filter((vm) => vm.name === text && vm.state !== "dead");
  if (running.length === 0) {
    throw new CorralError(
      `no running VM named '${text}' that corral started: corral ps lists them; ` +
        `or give its QMP address as unix:/path or tcp:host:port`,
    );
  }
  return { name: text, address: `unix:${running.at(-1)!.qmp}` };
}

/** What the terminal driver needs of a session (QMP VMs, or a guest agent). */
export interface ShellSession {
  /** The names of what it talks to. */
  readonly names: readonly string[];
  /** Completion candidates for `line`. */
  complete(line: string): [string[], string];
  /** Run one line; resolves to whether it succeeded. */
  run(text: string, signal?: AbortSignal): Promise<boolean>;
  /** Disconnect. */
  close(): Promise<void>;
}

/** One session on QMP VMs. */
export class Shell implements AsyncDisposable, ShellSession {
  #lab: Lab;
  #names: string[];
  #options: ShellOptions;
  #schema: QmpSchema;
  #events: { on: boolean; filter: RegExp | undefined } = { on: true, filter: undefined };
  #watching = new AbortController();
  #record: { path: string; steps: Record<string, unknown>[] } | undefined;
  #targets: ShellTarget[];

  private constructor(lab: Lab, targets: ShellTarget[], schema: QmpSchema, options: ShellOptions) {
    this.#lab = lab;
    this.#targets = targets;
    this.#names = targets.map((t) => t.name);
    this.#schema = schema;
    this.#options = options;
    for (const name of this.#names) this.#watch(lab.vm(name));
  }

  /** Connect to every target (all at once) and read the first one's schema. */
  static async open(targets: ShellTarget[], options: ShellOptions): Promise<Shell> {
    const lab = await Lab.launch(
      targets.map((t) => ({ name: t.name, attach: t.address })),
      { commandTimeout: options.timeout },
    );
    try {
      return new Shell(lab, targets, await lab.vm(targets[0]!.name).schema(), options);
    } catch (error) {
      await lab.shutdown();
      throw error;
    }
  }

  /** The VMs, by name. */
  get names(): readonly string[] {
    return this.#names;
  }

  /** Completion candidates for `line` (see `complete`). */
  complete(line: string): [string[], string] {
    return complete(this.#options.hmp ? "" : line, { schema: this.#schema, targets: this.#names });
  }

  /**
   * Run one line; resolves to whether it succeeded. Never throws for what
   * the user typed or QEMU answered: those are printed as errors.
   */
  async run(text: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const line = this.#options.hmp && !text.trim().startsWith("@")
        ? parseLine(`hmp ${text}`)
        : parseLine(text);
      if (!line) return true;
      await this.#dispatch(line, signal ?? new AbortController().signal);
      return true;
    } catch (error) {
      this.#options.output.error(`error: ${describe(error, signal)}`);
      return false;
    }
  }

  /** Stop watching events, write a recording in progress, disconnect. */
  async close(): Promise<void> {
    await this.#stopRecording().catch((error) =>
      this.#options.output.error(`error: ${describe(error, undefined)}`)
    );
    this.#watching.abort();
    await this.#lab.shutdown();
  }

  /** Same as {@linkcode Shell.prototype.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #dispatch(line: ShellLine, signal: AbortSignal): Promise<void> {
    switch (line.name) {
      case "help":
        return this.#help(line.words[0]);
      case "vms":
        return this.#say(this.#targets.map((t) => `${t.name}  ${t.address}`).join("\n"));
      case "events":
        return this.#setEvents(line.words[0] ?? "on");
      case "record":
        return await this.#recordCommand(line.words[0], line.words[1]);
      case "quit":
      case "exit":
        throw new CorralError("quit and exit end the shell: press Ctrl-D, or end the script");
      case "wait":
        return await this.#wait(line, signal);
      case "hmp":
        return await this.#execute(
          { ...line, name: "human-monitor-command", args: { "command-line": line.rest } },
          signal,
        );
      default:
        return await this.#execute(line, signal);
    }
  }

  #vms(target: string | undefined): Vm[] {
    if (target === undefined) return [this.#lab.vm(this.#names[0]!)];
    return resolveSelector(target, this.#lab.members).map((name) => this.#lab.vm(name));
  }

  async #execute(line: ShellLine, signal: AbortSignal): Promise<void> {
    const args = Object.keys(line.args).length ? line.args : undefined;
    if (!this.#schema.hasCommand(line.name)) {
      // The schema names it; QEMU would only say "CommandNotFound".
      this.#schema.validate(line.name, args);
    }
    const vms = this.#vms(line.target);
    this.#recordStep(line.target, {
      qmp: args ? { execute: line.name, arguments: args } : { execute: line.name },
    });
    const results = await new Fleet(vms).run(
      (vm, stop) => vm.executeUntyped(line.name, args, { signal: AbortSignal.any([stop, signal]) }),
      { timeout: (this.#options.timeout ?? 30_000) + 1000, signal },
    );
    this.#report(results.results, line.target !== undefined);
  }

  async #wait(line: ShellLine, signal: AbortSignal): Promise<void> {
    const event = line.words[0];
    if (!event) throw new CorralError("wait EVENT [key=value…] [timeout=5s]");
    const { timeout: text, ...match } = line.args;
    const timeout = text === undefined ? this.#options.timeout ?? 30_000 : parseDuration(text);
    if (timeout === undefined) throw new CorralError(`timeout=${text} is not a duration like 5s`);
    const vms = this.#vms(line.target);
    this.#recordStep(line.target, {
      "wait-event": {
        event,
        ...(Object.keys(match).length ? { match } : {}),
        timeout: `${timeout}ms`,
      },
    });
    const results = await new Fleet(vms).run(
      (vm, stop) =>
        vm.waitFor(event as EventName, {
          match: Object.keys(match).length ? match as never : undefined,
          timeout,
          signal: AbortSignal.any([stop, signal]),
        }),
      { timeout: timeout + 1000, signal },
    );
    this.#report(results.results, line.target !== undefined);
  }

  #report(
    results: readonly { vm: string; status: string; value?: unknown; error?: Error }[],
    named: boolean,
  ): void {
    const failed = results.filter((r) => r.status !== "ok");
    for (const result of results) {
      if (result.status !== "ok") continue;
      const text = this.#format(result.value);
      this.#say(
        named
          ? (this.#options.pretty
            ? `${result.vm}: ${text}`
            : JSON.stringify({ vm: result.vm, return: result.value }))
          : text,
      );
    }
    if (failed.length > 0) {
      throw new CorralError(failed.map((r) => r.error!.message).join("\n"));
    }
  }

  #format(value: unknown): string {
    if (typeof value === "string" && this.#options.pretty) return value.trimEnd();
    return this.#options.pretty
      ? JSON.stringify(value ?? null, null, 2)
      : JSON.stringify(value ?? null);
  }

  #say(text: string): void {
    this.#options.output.print(text);
  }

  #help(command: string | undefined): void {
    if (!command) {
      return this.#say(
        [
          'COMMAND key=value a.b=1 list=[1,2] name="two words"   any QMP command (Tab completes)',
          '{"execute": "…", "arguments": {…}}                      a raw request',
          "@SELECTOR COMMAND …          the same on several VMs (name, glob, all), a result each",
          "help COMMAND                 its arguments and return, from this QEMU's schema",
          "wait EVENT [k=v…] [timeout=5s]  the next EVENT since the last command (never missed)",
          "events on|off|PATTERN*       which events are shown as they come",
          "hmp LINE                     a human monitor command",
          "record FILE.yaml [force] | stop  turn what you type into a recipe for corral run",
          "vms                          the VMs of this shell",
          "Ctrl-C cancels the command in flight; Ctrl-D leaves.",
        ].join("\n"),
      );
    }
    const entry = this.#schema.get(command);
    if (entry?.["meta-type"] !== "command") {
      this.#schema.validate(command); // throws with a did-you-mean
      return;
    }
    const lines = [`${command}${entry["allow-oob"] ? " (may run out of band)" : ""}`];
    const args = this.#memberLines(entry["arg-type"]!);
    lines.push(args.length ? "arguments:" : "arguments: none", ...args);
    // What comes back, with its members (of each element, for a list), as the arguments are shown.
    let returned = this.#schema.get(entry["ret-type"]!);
    while (returned?.["meta-type"] === "array") {
      returned = this.#schema.get(returned["element-type"]!);
    }
    lines.push(`returns: ${this.#schema.describe(entry["ret-type"]!)}`);
    lines.push(...(returned ? this.#memberLines(returned.name) : []));
    this.#say(lines.join("\n"));
  }

  /** An object type's members, one a line (`name?: type` when optional), its variants' too. */
  #memberLines(type: string): string[] {
    const entry = this.#schema.get(type);
    const line = (member: { name?: string; type?: string; default?: unknown }, when = "") =>
      `  ${member.name}${member.default !== undefined ? "?" : ""}: ${
        this.#schema.describe(member.type!)
      }${when}`;
    return [
      ...(entry?.members ?? []).map((member) => line(member)),
      ...(entry?.variants ?? []).flatMap((variant) =>
        (this.#schema.get(variant.type)?.members ?? []).map((member) =>
          line(member, ` (when ${entry!.tag} is ${variant.case})`)
        )
      ),
    ];
  }

  #setEvents(mode: string): void {
    if (mode === "on" || mode === "off") this.#events = { on: mode === "on", filter: undefined };
    else {
      const pattern = mode.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll(
        "?",
        ".",
      );
      this.#events = { on: true, filter: new RegExp(`^${pattern}$`) };
    }
    this.#say(
      `events ${this.#events.on ? this.#events.filter ? `matching ${mode}` : "on" : "off"}`,
    );
  }

  #watch(vm: Vm): void {
    (async () => {
      try {
        for await (
          const event of vm.events(undefined, { since: vm.mark(), signal: this.#watching.signal })
        ) {
          const { on, filter } = this.#events;
          if (!on || (filter && !filter.test(event.event))) continue;
          const data = event.data === undefined ? "" : ` ${JSON.stringify(event.data)}`;
          const who = this.#names.length > 1 ? `${vm.name} ` : "";
          this.#options.output.notice(`event ${who}${event.event}${data}`);
        }
      } catch (error) {
        if (!this.#watching.signal.aborted) {
          this.#options.output.notice(`${vm.name}: ${(error as Error).message}`);
        }
      }
    })();
  }

  async #recordCommand(word: string | undefined, option: string | undefined): Promise<void> {
    if (word === undefined) {
      throw new CorralError(
        "record FILE.yaml [force] starts a recording; record stop writes it",
      );
    }
    if (word === "stop") {
      if (!this.#record) throw new CorralError("nothing is being recorded");
      const path = this.#record.path;
      await this.#stopRecording();
      return this.#say(`recorded ${path}: corral run ${path}`);
    }
    if (option !== undefined && option !== "force") {
      throw new CorralError(`record ${word} takes only force, not ${JSON.stringify(option)}`);
    }
    await checkRecordPath(word, option === "force");
    await this.#stopRecording();
    this.#record = { path: word, steps: [] };
    this.#say(`recording into ${word} (record stop writes it)`);
  }

  #recordStep(target: string | undefined, action: Record<string, unknown>): void {
    if (!this.#record) return;
    const n = this.#record.steps.length + 1;
    const what = Object.entries(action)[0]!;
    const label = what[0] === "qmp"
      ? (what[1] as { execute: string }).execute
      : `wait ${(what[1] as { event: string }).event}`;
    this.#record.steps.push({ name: `${n} ${label}`, on: target ?? this.#names[0], ...action });
  }

  async #stopRecording(): Promise<void> {
    const record = this.#record;
    if (!record) return;
    this.#record = undefined;
    const recipe = {
      recipe: 1,
      name: "shell-session",
      description: `Recorded by corral shell on ${new Date().toISOString()}.`,
      vms: Object.fromEntries(this.#targets.map((t) => [t.name, { attach: t.address }])),
      steps: record.steps,
    };
    // Written beside it and renamed over it: a link planted there meanwhile is replaced, never
    // followed.
    const temporary = `${record.path}.${Deno.pid}.tmp`;
    try {
      await Deno.writeTextFile(temporary, stringify(recipe), { createNew: true, mode: 0o600 });
      await Deno.rename(temporary, record.path);
    } catch (cause) {
      await Deno.remove(temporary).catch(() => {});
      throw new CorralError(
        `could not write the recording to ${record.path}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
}

/**
 * Refuse a recording path that is a link, a file that exists (unless
 * `force`), or in a directory that is missing: said at `record`, not when
 * the session's work would be lost.
 */
async function checkRecordPath(path: string, force: boolean): Promise<void> {
  const existing = await Deno.lstat(path).catch(() => undefined);
  if (existing?.isSymlink) {
    throw new CorralError(`${path} is a symbolic link: record into a plain file`);
  }
  if (existing && !existing.isFile) throw new CorralError(`${path} is not a file`);
  if (existing && !force) {
    throw new CorralError(`${path} exists: record ${path} force replaces it`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const parent = await Deno.stat(dir).catch(() => undefined);
  if (!parent?.isDirectory) {
    throw new CorralError(`cannot record into ${path}: the directory ${dir} does not exist`);
  }
}

function describe(error: unknown, signal: AbortSignal | undefined): string {
  if (signal?.aborted) return "cancelled";
  if (error instanceof CorralError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
