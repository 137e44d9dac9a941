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
import { defineAction } from "../lib/recipe/actions/action.ts";
import { opt } from "../lib/recipe/actions/options.ts";
import { registerAction } from "../lib/recipe/actions/registry.ts";
import { RecipeError } from "../lib/recipe/parse.ts";
import { defineHostKind, type Host } from "../lib/host/host.ts";
import { LOCAL } from "../lib/host/local.ts";
import { registerHostKind } from "../lib/host/registry.ts";
import { Lab } from "../lib/vm/lab.ts";

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

/** What an action file holds: a throwaway fault that pauses the VM until the engine undoes it. */
const hold = defineAction({
  key: "hold",
  summary: "pause the VM until the fault ends",
  options: { note: opt.string("what the output says") },
  mutates: () => true,
  async run(action, { vm, timeout, signal }) {
    await vm.pause({ timeout, signal });
    return { note: action.note ?? "held" };
  },
  async undo(_action, { vm, output, timeout, signal }) {
    undone.push(`${vm.name} ${JSON.stringify(output)}`);
    await vm.resume({ timeout, signal });
  },
});
const undone: string[] = [];

const HELD = `recipe: 1
name: held
vms: { a: {}, b: {} }
steps:
  - { name: booted, console: { wait: READY } }
  - name: faulted
    block:
      - { name: hold it, hold: { note: inner } }
      - { name: paused, wait-status: { status: paused } }
    always:
      - { name: healed, wait-status: { status: running }, timeout: 10s }
  - { name: hold again, on: a, hold: {} }
  - { name: broken, on: b, fail: boom }
finally:
  - { name: running again, wait-status: { status: running }, timeout: 10s }
`;

Deno.test("extensions: an action from one file is parsed, checked and run, and its undo heals", async () => {
  assert.throws(() => parseRecipe(HELD, "held.yaml"), /unknown key 'hold' in a step/);
  using _registered = registerAction(hold);
  assert.throws(
    () => parseRecipe(HELD.replace("note: inner", "nope: 1"), "held.yaml"),
    (error: RecipeError) => /held.yaml:8:34: unknown key 'nope' in hold/.test(error.message),
  );
  undone.length = 0;
  const { journal } = await runRecipe(parseRecipe(HELD, "held.yaml"), { seed: 1 });
  const order = journal.steps.map((s) => `${s.name}: ${s.targets.map((t) => t.status)}`);
  assert.deepEqual(order, [
    "booted: ok,ok",
    "hold it: ok,ok",
    "paused: ok,ok",
    "undo hold it: ok,ok", // the block's fault ends with the block, before always
    "healed: ok,ok",
    "faulted: ok,ok",
    "hold again: ok",
    "broken: failed",
    "undo hold again: ok", // the steps failed; the fault is healed before finally
    "running again: ok,ok",
  ]);
  assert.deepEqual(undone.sort(), [
    'a {"note":"held"}',
    'a {"note":"inner"}',
    'b {"note":"inner"}',
  ]);
  assert.equal(journal.verdict, "fail");
  assert.match(journal.reason, /broken/);
});

Deno.test("extensions: Ctrl-C during a fault still undoes it, before finally", async () => {
  using _registered = registerAction(hold);
  const recipe = parseRecipe(
    "recipe: 1\nname: interrupted\nvms: { a: {} }\nsteps:\n" +
      "  - { name: held, hold: {} }\n" +
      "  - { name: waiting, wait-event: { event: NEVER_SENT, timeout: 10m }, timeout: 10m }\n" +
      "finally:\n  - { name: running again, wait-status: { status: running }, timeout: 10s }\n",
    "interrupted.yaml",
  );
  const stop = new AbortController();
  const { journal } = await runRecipe(recipe, {
    seed: 1,
    signal: stop.signal,
    progress: (event) => {
      if (event.type === "step-start" && event.step === "waiting") stop.abort();
    },
  });
  const order = journal.steps.map((s) => `${s.name}: ${s.targets.map((t) => t.status)}`);
  assert.deepEqual(order.slice(2), ["undo held: ok", "running again: ok"]);
  assert.equal(journal.verdict, "error");
});

/**
 * What a host kind file holds: a place whose QEMUs keep their files in a
 * directory of its own (as a host elsewhere would), reached here through
 * symlinks to their sockets.
 */
const aside = defineHostKind({
  name: "aside",
  async connect(spec) {
    const root = await Deno.makeTempDir({ prefix: "corral-aside-" });
    const host: Host = {
      ...LOCAL,
      name: spec.name,
      can: { keep: false, networks: false },
      makeDir: (instance) => Deno.makeTempDir({ dir: root, prefix: `${instance}-` }),
      async spawnQemu(binary, args, vm, options) {
        asideSpawned.push(vm);
        return await LOCAL.spawnQemu(binary, args, vm, options);
      },
      async expose(sockets, wait) {
        for (const [local, there] of sockets) {
          while (!await Deno.stat(there).then(() => true, () => false)) {
            if (await wait.process.exited(10)) return false;
            if (performance.now() > wait.deadline) throw new Error(`no ${there} in time`);
          }
          await Deno.symlink(there, local);
        }
        return true;
      },
      async unexpose(sockets) {
        for (const [local] of sockets) await Deno.remove(local).catch(() => {});
      },
      close: () => Deno.remove(root, { recursive: true }),
    };
    asideRoots.push(root);
    return host;
  },
});
const asideSpawned: string[] = [];
const asideRoots: string[] = [];

Deno.test("extensions: a host kind from one file runs a lab's QEMU, its console and logs", async () => {
  using _kind = registerHostKind(aside);
  const lab = await Lab.launch([{ name: "a", host: "side" }], {
    hosts: [{ name: "side", kind: "aside" }],
  });
  try {
    const vm = lab.vm("a");
    assert.equal(vm.host, "side");
    await vm.console.waitFor("READY");
    await vm.pause();
    assert.equal((await vm.status()).status, "paused");
    assert.ok(await lab.hostUp("side"));
    const entries = [...Deno.readDirSync(asideRoots[0]!)];
    assert.equal(entries.length, 1, "QEMU's directory is the host kind's");
    await vm.collectLogs();
    assert.match(await Deno.readTextFile(vm.consoleLogs.at(-1)!), /READY/);
  } finally {
    await lab.shutdown();
  }
  assert.deepEqual(asideSpawned, ["a"]);
  assert.equal(await Deno.stat(asideRoots[0]!).then(() => true, () => false), false);
});
