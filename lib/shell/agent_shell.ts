/**
 * `corral shell --agent SOCKET`: the same shell on a guest agent's socket
 * (qemu-ga): commands typed as `guest-exec path=/bin/ls arg=["-l"]`,
 * completion from the agent's own `guest-info`, a sync on connect and
 * after every timeout, one command at a time. No events and no waits: the
 * agent has none.
 *
 * @module
 */

import { CorralError } from "../errors.ts";
import { GuestAgent } from "../agent/client.ts";
import { parseLine } from "./parse.ts";
import type { ShellOptions, ShellSession } from "./shell.ts";

/** A shell session on a guest agent. */
export class AgentShell implements ShellSession {
  #agent: GuestAgent;
  #commands: string[];
  #options: ShellOptions;

  private constructor(agent: GuestAgent, commands: string[], options: ShellOptions) {
    this.#agent = agent;
    this.#commands = commands;
    this.#options = options;
  }

  /** Connect to the agent at `address` and read which commands it supports. */
  static async open(address: string, options: ShellOptions): Promise<AgentShell> {
    const agent = await GuestAgent.connect(address, {
      name: "agent",
      commandTimeout: options.timeout,
    });
    try {
      const info = await agent.execute("guest-info") as {
        supported_commands: { name: string; enabled: boolean }[];
      };
      const commands = info.supported_commands.filter((c) => c.enabled).map((c) => c.name).sort();
      return new AgentShell(agent, commands, options);
    } catch (error) {
      agent.close();
      throw error;
    }
  }

  /** The agent, as the shell names it. */
  get names(): readonly string[] {
    return ["agent"];
  }

  /** Command names, then nothing: the agent does not describe its arguments. */
  complete(line: string): [string[], string] {
    const word = line.split(/\s+/).at(-1) ?? "";
    if (line.trim().includes(" ")) return [[], word];
    return [
      [...this.#commands, "help"].filter((c) => c.startsWith(word)).map((c) => `${c} `),
      word,
    ];
  }

  /** Run one line; resolves to whether it succeeded. */
  async run(text: string, signal?: AbortSignal): Promise<boolean> {
    const output = this.#options.output;
    try {
      const line = parseLine(text);
      if (!line) return true;
      if (line.target !== undefined) throw new CorralError("@selectors need QMP VMs, not an agent");
      if (line.name === "help") {
        output.print(`agent commands: ${this.#commands.join(" ")}`);
        return true;
      }
      if (!this.#commands.includes(line.name)) {
        throw new CorralError(`the agent has no enabled command ${line.name}: help lists them`);
      }
      const args = Object.keys(line.args).length ? line.args : undefined;
      const noReply = /^guest-(shutdown|suspend-)/.test(line.name);
      const value = await this.#agent.execute(line.name, args, { signal, noReply });
      output.print(
        this.#options.pretty
          ? JSON.stringify(value ?? null, null, 2)
          : JSON.stringify(value ?? null),
      );
      return true;
    } catch (error) {
      output.error(`error: ${signal?.aborted ? "cancelled" : (error as Error).message}`);
      return false;
    }
  }

  /** Close the channel. */
  close(): Promise<void> {
    this.#agent.close();
    return Promise.resolve();
  }
}
