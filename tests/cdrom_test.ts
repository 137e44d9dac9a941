/**
 * A CD drive (issue 25): `cdrom: true` in a spec gives the VM an empty
 * drive; `cdrom: { insert }` puts an image in while the guest runs, and
 * the guest mounts it and reads its files; the medium stays in across a
 * live migration; `cdrom: { eject: true }` takes it out, and the guest
 * finds the drive empty.
 */

import assert from "node:assert/strict";
import { corral, recipeFile } from "./_cli.ts";

Deno.test("cdrom: an image put in while the guest runs is mounted and read inside it, stays in across a migration, and is gone once ejected", async () => {
  const dir = await Deno.makeTempDir({ prefix: "corral-cdrom-" });
  const tree = `${dir}/tree`;
  await Deno.mkdir(tree);
  await Deno.writeTextFile(`${tree}/hello`, "from the cd\n");
  const image = `${dir}/cd.img`;
  const mkfs = await new Deno.Command("mkfs.ext4", {
    args: ["-q", "-F", "-b", "4096", "-d", tree, image, "8M"],
    stderr: "piped",
  }).output();
  assert.ok(mkfs.success, new TextDecoder().decode(mkfs.stderr));
  const read = "mkdir -p /mnt && mount -o ro /dev/sr0 /mnt && cat /mnt/hello && umount /mnt";
  const empty = "dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>&1 | grep -qi 'no medium'";
  const file = await recipeFile(`recipe: 1
name: cdrom
vms:
  c: { guest: builtin:linux, cdrom: true }
defaults: { timeout: 60s }
steps:
  - { name: up, wait-agent: {} }
  - { name: empty at first, agent: { exec: "${empty}" } }
  - { name: inserted, cdrom: { insert: ${image} } }
  - { name: read inside, wait-until: { exec: "${read}" } }
  - { name: moved, migrate: {} }
  - { name: still in, agent: { exec: "${read}", expect: "from the cd" } }
  - { name: ejected, cdrom: { eject: true } }
  - { name: gone, wait-until: { exec: "${empty}" } }
`);
  try {
    const run = await corral(["run", file]);
    assert.equal(run.code, 0, run.out + run.err);
  } finally {
    await Deno.remove(file);
    await Deno.remove(dir, { recursive: true });
  }
});
