/**
 * `deno task install [DIR]`: put a `corral` on the `PATH` (default
 * `~/.local/bin`) that runs with nothing else on it. `deno install -g`
 * writes a shim that calls `deno` from the `PATH`, so with Deno from npx (as
 * the README's set-up has it) the installed command fails with "deno: not
 * found"; this one names the very Deno binary, the repository's
 * `deno.json` and lock, and the permissions the CLI needs. (A `deno
 * compile` executable would need Deno's runtime download from
 * dl.deno.land.)
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const dir = Deno.args[0] ?? `${Deno.env.get("HOME")}/.local/bin`;
const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
const permissions = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-env",
  "--allow-sys=uid",
];
const shim = `#!/bin/sh
# corral, installed by deno task install from ${repo}
exec ${quote(Deno.execPath())} run --quiet ${permissions.join(" ")} --config ${
  quote(`${repo}/deno.json`)
} ${quote(`${repo}/lib/cli/main.ts`)} "$@"
`;
await Deno.mkdir(dir, { recursive: true });
await Deno.writeTextFile(`${dir}/corral`, shim, { mode: 0o755 });
await Deno.chmod(`${dir}/corral`, 0o755);
console.log(
  `corral: ${dir}/corral${
    (Deno.env.get("PATH") ?? "").split(":").includes(dir) ? "" : ` (add ${dir} to PATH)`
  }`,
);
