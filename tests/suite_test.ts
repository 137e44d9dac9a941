/**
 * `corral test` (issue 24) on a folder of small recipes with real QEMUs
 * (`guest: none`): parallel runs admitted by a memory budget that forces
 * waiting (never exceeded), a planted flaky recipe (an HTTP endpoint that
 * fails once), a quarantined failure, tags, shards and a matrix; the merged
 * junit.xml and index.html.
 */

import assert from "node:assert/strict";
import { corral } from "./_cli.ts";

const recipe = (name: string, url: string, more = "") =>
  `recipe: 1\nname: ${name}\n${more}vms:\n  a: { guest: none, memory: 100 }\n` +
  `steps:\n  - { name: get, fetch: { url: "${url}" } }\n`;

/** A folder of recipes against `base` (an HTTP server of the test's), and a quarantine file. */
async function suite(base: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "corral-suite-" });
  await Deno.mkdir(`${dir}/recipes/files`, { recursive: true });
  const files: Record<string, string> = {
    "recipes/ok1.yaml": recipe("ok1", `${base}/ok`, "tags: [smoke]\n"),
    "recipes/ok2.yaml": recipe("ok2", `${base}/ok`, "tags: [smoke, slow]\n"),
    "recipes/flaky.yaml": recipe("flaky", `${base}/flaky`),
    "recipes/known.yaml": recipe("known-bad", `${base}/missing`),
    "recipes/sized.yaml": recipe(
      "sized",
      `${base}/ok?size=\${{ vars.size }}`,
      "vars: { size: 1 }\n",
    ),
    "recipes/files/data.yaml": "not: a recipe\n",
    "quarantine.yaml": "- { recipe: known-bad, reason: 'issue #7', until: 2099-12-31 }\n",
  };
  for (const [path, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

function server() {
  const seen = new Map<string, number>();
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    seen.set(path, (seen.get(path) ?? 0) + 1);
    if (path === "/ok") return new Response("ok");
    if (path === "/flaky") return new Response("", { status: seen.get(path) === 1 ? 500 : 200 });
    return new Response("", { status: 404 });
  });
  return { http, base: `http://127.0.0.1:${http.addr.port}` };
}

Deno.test("corral test: a suite in parallel within its memory budget; flaky, quarantined, tags, shards, matrix; merged junit and index", async () => {
  const { http, base } = server();
  const dir = await suite(base);
  try {
    const report = `${dir}/report`;
    const run = await corral([
      "test",
      `${dir}/recipes`,
      ...["--jobs", "3", "--memory", "400M", "--reruns", "1", "--report", report],
      ...["--quarantine", `${dir}/quarantine.yaml`, "--matrix", "size=1,2"],
    ]);
    assert.equal(run.code, 0, run.out + run.err);
    // 164 MiB each (100 + QEMU's 64) in 400: two at a time, and the others wait.
    const starts = [...run.out.matchAll(/^start {2}\S+.*: 164 MiB, (\d+)\/400 MiB held$/gm)];
    assert.equal(starts.length, 8, run.out); // ok1, ok2, flaky and known twice each, sized × 2
    assert.ok(starts.every((m) => Number(m[1]) <= 400), run.out);
    assert.match(run.out, /^waits {2}/m);
    assert.match(run.out, /^flaky: .*flaky\.yaml \(failed, then passed on attempt 2\)$/m);
    assert.match(
      run.out,
      /^quarantined: .*known\.yaml failed, excused until 2099-12-31: issue #7$/m,
    );
    assert.match(run.out, /sized\.yaml\[size=1\]/);
    assert.match(run.out, /sized\.yaml\[size=2\]/);
    assert.match(run.out, /^4 passed, 1 flaky, 0 failed, 1 quarantined$/m);
    const junit = await Deno.readTextFile(`${report}/junit.xml`);
    assert.match(junit, /<testsuites name="corral test" tests="\d+" failures="0">/);
    assert.match(junit, /<property name="outcome" value="flaky"\/>/);
    assert.match(junit, /<skipped message="quarantined: /);
    const index = await Deno.readTextFile(`${report}/index.html`);
    assert.match(index, /flaky: passed on attempt 2/);
    assert.match(index, /quarantined until 2099-12-31: issue #7/);
    assert.match(index, /<a href="[^"]*flaky~2\/report.html">/);
    await Deno.stat(
      `${report}/${index.match(/<a href="([^"]*ok1)\/report.html"/)![1]}/journal.json`,
    );

    // Tags pick, shards split the same suite without overlap, and a failure fails the suite.
    const smoke = await corral(["test", `${dir}/recipes`, "--tags", "smoke,!slow"]);
    assert.equal(smoke.code, 0, smoke.out + smoke.err);
    assert.deepEqual(ids(smoke.out), [`${dir}/recipes/ok1.yaml`]);
    const shards = [];
    for (const shard of ["1/2", "2/2"]) {
      const part = await corral(["test", `${dir}/recipes`, "--tags", "smoke", "--shard", shard]);
      shards.push(...ids(part.out));
    }
    assert.deepEqual(shards.sort(), [`${dir}/recipes/ok1.yaml`, `${dir}/recipes/ok2.yaml`]);
    const failing = await corral(["test", `${dir}/recipes/known.yaml`]);
    assert.equal(failing.code, 1);
    assert.match(failing.out, /^failed: .*known\.yaml: /m);
    const none = await corral(["test", `${dir}/recipes`, "--tags", "nothing"]);
    assert.equal(none.code, 1);
    assert.match(none.err, /no recipe to run/);
  } finally {
    await http.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

function ids(out: string): string[] {
  return [...out.matchAll(/^start {2}(\S+?)(?: \(rerun \d+\))?: /gm)].map((m) => m[1]!);
}
