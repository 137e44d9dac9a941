import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `restore: { from: DIR, point: LATEST | NAME, to: PATH }`: the disk as a
 * backup set (`backup: { to: DIR }`) holds it at a point, rebuilt into the
 * new standalone qcow2 image `to` where the VM runs — once per target VM,
 * so `${{ vm.name }}` in the paths picks each VM's set.
 */
export default defineAction({
  key: "restore",
  summary: "rebuild a disk from a backup set (a folder) at a point into a new standalone qcow2",
  options: {
    from: required(opt.template("the backup set's folder")),
    point: opt.template("a backup's name (0003), or LATEST (the default)"),
    to: required(opt.template("the image to write (it must not exist)")),
  },
  mutates: () => false,
  run: async (action, { vm, render }) =>
    await vm.restoreBackup({
      from: render(action.from),
      point: action.point ? render(action.point) : "LATEST",
      to: render(action.to),
    }),
});
