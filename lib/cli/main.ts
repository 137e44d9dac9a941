/**
 * The `corral` command line: `run`, `check` and `plan` a recipe; `shell`,
 * `ps`, `gc`, `report`, `replay`, `completions`. Each command is a file of
 * `lib/cli/commands/` listed in its registry; this file finds the command,
 * reads its flags and runs it.
 *
 * ```sh
 * deno task run recipes/crash-drill.yaml --report .report/drill
 * deno task check recipes/crash-drill.yaml
 * deno task plan recipes/crash-drill.yaml --seed 7
 * ```
 *
 * Exit codes: 0 pass, 1 fail, 2 invalid input, 3 unknown, 4 error, 130
 * interrupted (SIGINT), 143 terminated (SIGTERM).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Command } from "./command.ts";
import { COMMANDS } from "./commands/registry.ts";
import config from "../../deno.json" with { type: "json" };

/**
 * Run the command line `args` with the commands `commands` (default: every
 * registered one); resolves to the exit code.
 */
export async function main(
  args: string[],
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--version" || name === "-V") {
    console.log(`corral ${config.version}`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) return overview(name, commands);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.flags, help: { type: "boolean", short: "h", default: false } },
    });
  } catch (error) {
    console.error(`corral ${command.name}: ${(error as Error).message}\n\n${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(command.usage);
    return 0;
  }
  return await command.run({ values: parsed.values, positionals: parsed.positionals, commands });
}

/** No command, `--help`, or an unknown one: what there is (exit 0 for help, else 2). */
function overview(name: string | undefined, commands: readonly Command[]): number {
  const unknown = name !== undefined && name !== "-h" && name !== "--help";
  const lines = commands.map((c, i) =>
    `${i === 0 ? "usage:" : "      "} corral ${c.name} ${c.synopsis}`.trimEnd()
  );
  console.error(
    `${[...lines, "       corral --version"].join("\n")}\n\n${
      unknown ? `unknown command '${name}'\n\n` : ""
    }Try: corral run --help`,
  );
  return unknown || name === undefined ? 2 : 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // Exit explicitly: kept QEMUs (--keep) must not keep this process alive.
  Deno.exit(code);
}
