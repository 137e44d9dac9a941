/**
 * `deno task gen-types [--add] [--qemu BINARY] [--check]`: the QMP types
 * (`lib/qmp/qapi.ts`) and reference (`docs/qmp-reference.md`) of every
 * supported QEMU release, generated from the schemas committed in
 * `lib/qmp/schemas/` (one `query-qmp-schema` per release). `--add` reads
 * the schema of a QEMU (`--qemu BINARY`, else `$CORRAL_QEMU`, else
 * `qemu-system-x86_64`) and adds it, replacing one of the same release:
 * that is how a new QEMU becomes supported. `--check` only reports whether
 * the committed files match.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { launch } from "../mod.ts";
import {
  type CodegenInput,
  generateReference,
  generateTypes,
  release,
} from "../lib/qmp/_codegen.ts";
import type { SchemaEntry } from "../lib/qmp/schema.ts";
import { formatSource } from "./_fmt.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Where the generated files go, relative to the repository. */
export const TYPES_FILE = "lib/qmp/qapi.ts";
export const REFERENCE_FILE = "docs/qmp-reference.md";
/** The committed schemas, one JSON file per release. */
export const SCHEMAS_DIR = "lib/qmp/schemas";

/** Read the schema and version of the QEMU `binary`. */
export async function readSchema(binary?: string): Promise<CodegenInput> {
  await using vm = await launch({ name: "gen-types", guest: "none", qemu: binary });
  const entries = await vm.executeUntyped("query-qmp-schema") as SchemaEntry[];
  const { qemu, package: pkg } = vm.greeting.version;
  const version = `${qemu.major}.${qemu.minor}.${qemu.micro}${
    pkg.trim() ? ` (${pkg.trim()})` : ""
  }`;
  return { entries, version };
}

/** The committed schemas, oldest release first. */
export async function committedSchemas(): Promise<CodegenInput[]> {
  const inputs: CodegenInput[] = [];
  for await (const entry of Deno.readDir(`${root}${SCHEMAS_DIR}`)) {
    if (!entry.name.endsWith(".json")) continue;
    inputs.push(JSON.parse(await Deno.readTextFile(`${root}${SCHEMAS_DIR}/${entry.name}`)));
  }
  return inputs.sort((a, b) =>
    release(a.version).localeCompare(release(b.version), "en", { numeric: true })
  );
}

/** Where the schema of `input`'s release is committed. */
export function schemaPath(input: CodegenInput): string {
  return `${SCHEMAS_DIR}/${release(input.version)}.json`;
}

/** The generated files for `inputs`, formatted, by path. */
export async function render(inputs: readonly CodegenInput[]): Promise<Map<string, string>> {
  return new Map([
    [TYPES_FILE, await formatSource(generateTypes(inputs), "ts")],
    [REFERENCE_FILE, await formatSource(generateReference(inputs), "md")],
  ]);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      qemu: { type: "string" },
      add: { type: "boolean", default: false },
      check: { type: "boolean", default: false },
    },
  });
  if (values.add) {
    const input = await readSchema(values.qemu);
    await Deno.mkdir(`${root}${SCHEMAS_DIR}`, { recursive: true });
    await Deno.writeTextFile(`${root}${schemaPath(input)}`, JSON.stringify(input) + "\n");
    console.error(`wrote ${schemaPath(input)} for QEMU ${input.version}`);
  }
  const inputs = await committedSchemas();
  let stale = false;
  for (const [path, text] of await render(inputs)) {
    const committed = await Deno.readTextFile(`${root}${path}`).catch(() => "");
    if (values.check) {
      if (committed !== text) {
        console.error(`${path} does not match the committed schemas: run deno task gen-types`);
        stale = true;
      }
    } else {
      await Deno.writeTextFile(`${root}${path}`, text);
      console.error(`wrote ${path} for QEMU ${inputs.map((i) => i.version).join(" and ")}`);
    }
  }
  if (stale) Deno.exit(1);
}
