/** The README's examples run as written, against a real QEMU. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { spawnQemu } from "./_qemu.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * The README's fenced `ts` blocks. They are marked `ignore` for `deno test
 * --doc` because they need a QEMU at a fixed path; this test gives them one.
 */
async function readmeBlocks(): Promise<string[]> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  return [...readme.matchAll(/```ts(?: ignore)?\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

Deno.test("README: the QMP example runs as written and prints the paused status", async () => {
  const [example = ""] = await readmeBlocks();
  assert.ok(example.includes('Vm.connect("unix:/tmp/a.qmp"'), "the README's first example");
  await using qemu = await spawnQemu();
  // The only change: the socket path, so parallel runs do not collide.
  const script = example.replace("unix:/tmp/a.qmp", qemu.address);
  const file = `${root}.readme-example-${qemu.pid}.ts`;
  await Deno.writeTextFile(file, script);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", "--allow-net", "--allow-env", file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(out, /status: "paused"/);
    assert.match(out, /running: false/);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("README: the lab example crashes and recovers db1 and prints the web tier", async () => {
  const blocks = await readmeBlocks();
  const example = blocks.find((block) => block.includes("Lab.launch")) ?? "";
  assert.ok(example.includes("db.injectNmi()"), "the README's lab example");
  const file = `${root}.readme-example-lab-${Date.now()}.ts`;
  await Deno.writeTextFile(file, example);
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    assert.match(out, /GUEST_PANICKED \(pause\), back in [\d.]+ ms/);
    assert.match(out, /web1 running\nweb2 running/);
  } finally {
    await Deno.remove(file);
  }
});
