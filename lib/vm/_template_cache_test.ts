import assert from "node:assert/strict";
import { cachedTemplate, pruneTemplates, templateDraft, templateKey } from "./_template_cache.ts";

Deno.test("template cache: a published template is found by its key; a changed file gives another key and prunes the old", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-tc-" });
  try {
    const cache = `${dir}/cache`;
    const kernel = `${dir}/vmlinuz`;
    await Deno.writeTextFile(kernel, "one");
    const spec = { name: "a", kernel };
    const key = await templateKey("{}", spec, "/bin/true");
    assert.equal(await cachedTemplate(cache, key.id), undefined);
    const draft = await templateDraft(cache, key);
    await Deno.writeTextFile(`${draft.dir}/state`, "saved");
    const published = await draft.publish();
    assert.equal(await cachedTemplate(cache, key.id), published);
    assert.equal(await Deno.readTextFile(`${published}/state`), "saved");
    // Another spec, the same files: another key.
    assert.notEqual((await templateKey('{"memory":1}', spec, "/bin/true")).id, key.id);
    // The kernel rebuilt: another key, and the template that depended on the old one goes.
    await Deno.writeTextFile(kernel, "two, longer");
    assert.notEqual((await templateKey("{}", spec, "/bin/true")).id, key.id);
    await pruneTemplates(cache);
    assert.equal(await cachedTemplate(cache, key.id), undefined);
    assert.deepEqual([...Deno.readDirSync(cache)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
