/**
 * `deno task gen-types [--qemu BINARY] [--check]`: start that QEMU with
 * `-machine none`, read its `query-qmp-schema`, and write the types
 * (`lib/qmp/qapi.ts`) and the command and event reference
 * (`docs/qmp-reference.md`). With `--check`, only report whether the
 * committed files match.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { launch } from "../mod.ts";
import { type CodegenInput, generateReference, generateTypes } from "../lib/qmp/_codegen.ts";
import type { SchemaEntry } from "../lib/qmp/schema.ts";
import { formatSource } from "./_fmt.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Where the generated files go, relative to the repository. */
export const TYPES_FILE = "lib/qmp/qapi.ts";
export const REFERENCE_FILE = "docs/qmp-reference.md";

/** Read the schema and version of the QEMU `binary`. */
export async function readSchema(binary?: string): Promise<CodegenInput> {
  await using vm = await launch({ name: "gen-types", guest: "none", qemu: binary });
  const entries = await vm.client.execute("query-qmp-schema") as SchemaEntry[];
  const { qemu, package: pkg } = vm.greeting.version;
  const version = `${qemu.major}.${qemu.minor}.${qemu.micro}${
    pkg.trim() ? ` (${pkg.trim()})` : ""
  }`;
  return { entries, version };
}

/** The generated files for `input`, formatted, by path. */
export async function render(input: CodegenInput): Promise<Map<string, string>> {
  return new Map([
    [TYPES_FILE, await formatSource(generateTypes(input), "ts")],
    [REFERENCE_FILE, await formatSource(generateReference(input), "md")],
  ]);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { qemu: { type: "string" }, check: { type: "boolean", default: false } },
  });
  const input = await readSchema(values.qemu);
  let stale = false;
  for (const [path, text] of await render(input)) {
    const committed = await Deno.readTextFile(`${root}${path}`).catch(() => "");
    if (values.check) {
      if (committed !== text) {
        console.error(`${path} does not match QEMU ${input.version}: run deno task gen-types`);
        stale = true;
      }
    } else {
      await Deno.writeTextFile(`${root}${path}`, text);
      console.error(`wrote ${path} for QEMU ${input.version}`);
    }
  }
  if (stale) Deno.exit(1);
}
