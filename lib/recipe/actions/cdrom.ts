import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
import type { ActionData, Template } from "../model.ts";

interface Cdrom extends ActionData {
  kind: "cdrom";
  insert?: Template;
  eject: boolean;
}

/**
 * `cdrom: { insert: IMAGE }` / `cdrom: { eject: true }`: change the medium
 * in the VM's CD drive (`cdrom: true` in its spec) while it runs; the guest
 * sees the change. Not undone.
 */
export default defineAction({
  key: "cdrom",
  summary: "put an image in the VM's CD drive (insert: IMAGE) or take it out (eject: true)",
  options: {
    insert: opt.template("the image to put in (read only); relative to the current folder"),
    eject: opt.bool("take the medium out (forced: the guest's tray lock does not hold it)"),
  },
  shape: { exactlyOne: ["insert", "eject"] },
  build: (values): Cdrom => ({
    kind: "cdrom",
    insert: values.insert,
    eject: values.eject === true,
  }),
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm) => vm.spec?.cdrom ? undefined : "it has no CD drive (give it cdrom: true)",
  async run(action, { vm, timeout, signal, render }) {
    const file = action.insert === undefined ? undefined : absolute(render(action.insert));
    await vm.changeCdrom(file, { timeout, signal });
    return file === undefined ? { ejected: true } : { inserted: file };
  },
});

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}
