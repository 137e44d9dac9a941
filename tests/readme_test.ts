/** The README's examples run as written, against a real QEMU. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawnQemu } from "./_qemu.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The README's fenced `ts` block that contains `marker`. They are marked
 * `ignore` for `deno test --doc` because they need QEMU set up as the
 * README says; these tests do that.
 */
async function readmeExample(marker: string): Promise<string> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const blocks = [...readme.matchAll(/```ts(?: ignore)?\n([\s\S]*?)```/g)].map((match) =>
    match[1]!
  );
  const block = blocks.find((text) => text.includes(marker));
  assert.ok(block, `the README has an example with ${marker}`);
  return block;
}

/** Run `script` from the repository root, as the README says to; resolves to its stdout. */
async function runExample(script: string, permissions: string[]): Promise<string> {
  const file = `${root}.readme-example-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(file, script);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    return new TextDecoder().decode(stdout);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("README: the QMP example runs as written and prints the paused status", async () => {
  const example = await readmeExample('Vm.connect("unix:/tmp/a.qmp"');
  await using qemu = await spawnQemu();
  // The only change: the socket path, so parallel runs do not collide.
  const out = await runExample(example.replace("unix:/tmp/a.qmp", qemu.address), [
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
  ]);
  assert.match(out, /status: "paused"/);
  assert.match(out, /running: false/);
});

Deno.test("README: the lab example crashes and recovers db1 and prints the web tier", async () => {
  const out = await runExample(await readmeExample("Lab.launch"), ["-A"]);
  assert.match(out, /GUEST_PANICKED \(pause\), back in [\d.]+ ms/);
  assert.match(out, /web1 running\nweb2 running/);
});
