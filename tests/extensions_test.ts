/**
 * Canaries for the extension points (issue 21): a throwaway extension,
 * written as one file would be, is registered and used like a built-in one.
 */

import assert from "node:assert/strict";
import { defineCommand } from "../lib/cli/command.ts";
import { COMMANDS } from "../lib/cli/commands/registry.ts";
import { main } from "../lib/cli/main.ts";
import { parseRecipe, runRecipe } from "../mod.ts";
import { defineReporter } from "../lib/recipe/reporters/reporter.ts";
import { REPORTERS } from "../lib/recipe/reporters/registry.ts";

/** What a command file holds: one definition. */
const hello = defineCommand({
  name: "hello",
  synopsis: "NAME [options]",
  usage: "usage: corral hello NAME [options]\n\n  --loud   shout",
  flags: { loud: { type: "boolean", default: false } },
  run({ values, positionals }) {
    said.push(`${values.loud ? "HELLO" : "hello"} ${positionals.join(" ")}`);
    return Promise.resolve(positionals.length === 1 ? 0 : 2);
  },
});
const said: string[] = [];

Deno.test("extensions: a command from one file is dispatched, has --help, bad flags, and completions", async () => {
  const table = [...COMMANDS, hello];
  assert.equal(await main(["hello", "world", "--loud"], table), 0);
  assert.deepEqual(said, ["HELLO world"]);
  assert.equal(await main(["hello"], table), 2);

  const printed: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (line: string) => printed.push(line);
  console.error = (line: string) => printed.push(line);
  try {
    assert.equal(await main(["hello", "--help"], table), 0);
    assert.equal(await main(["hello", "--quiet"], table), 2);
    assert.equal(await main(["completions", "bash"], table), 0);
    assert.equal(await main(["--help"], table), 0);
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.match(printed[0]!, /^usage: corral hello NAME/);
  assert.match(printed[1]!, /corral hello: Unknown option '--quiet'/);
  assert.match(printed[2]!, /hello\) local opts="--loud --help"/);
  assert.match(printed[3]!, /corral hello NAME \[options\]/);
  assert.equal(await main(["hello", "x"]), 2, "not registered: unknown to the default table");
});

/** What a reporter file holds: one definition; this one counts what it is sent. */
const counter = defineReporter({
  name: "count.json",
  open(dir) {
    const seen: Record<string, number> = {};
    return Promise.resolve({
      on: (event) => void (seen[event.type] = (seen[event.type] ?? 0) + 1),
      finish: (journal) =>
        Deno.writeTextFile(
          `${dir}/count.json`,
          JSON.stringify({ ...seen, verdict: journal.verdict }),
        ),
    });
  },
});

Deno.test("extensions: a report output from one file gets the run's stream and the journal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-reporter-" });
  try {
    const recipe = parseRecipe(
      "recipe: 1\nname: counted\nvms: { a: {} }\nsteps:\n" +
        "  - { name: booted, console: { wait: READY } }\n  - { name: p, pause: {} }\n",
      "counted.yaml",
    );
    await runRecipe(recipe, { seed: 1, reportDir: dir, reporters: [...REPORTERS, counter] });
    const count = JSON.parse(await Deno.readTextFile(`${dir}/count.json`));
    const records = (await Deno.readTextFile(`${dir}/events.jsonl`)).split("\n").filter(Boolean);
    const qmpLines = (await Deno.readTextFile(`${dir}/vms/a/qmp.log`)).split("\n").filter(Boolean);
    assert.deepEqual(count, {
      record: records.length,
      qmp: qmpLines.length,
      console: 1,
      verdict: "pass",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
