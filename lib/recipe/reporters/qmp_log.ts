import { append, Chain, vmDir } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/** `vms/NAME/qmp.log`: every QMP message of the VM, and the steps between them. */
export default defineReporter({
  name: "vms/*/qmp.log",
  open(dir) {
    const files = new Map<string, Deno.FsFile>();
    // One chain for all: a file is opened inside it, so lines that arrive before it is open
    // wait for it instead of opening it again.
    const writes = new Chain();
    const fileOf = async (vm: string) => {
      let file = files.get(vm);
      if (!file) {
        file = await Deno.open(`${await vmDir(dir, vm)}/qmp.log`, { write: true, createNew: true });
        files.set(vm, file);
      }
      return file;
    };
    return Promise.resolve({
      on(event) {
        if (event.type !== "qmp") return;
        const line = `${event.line}\n`;
        writes.add(async () => append(await fileOf(event.vm), line));
      },
      async finish() {
        await writes.done();
        for (const file of files.values()) file.close();
        files.clear();
      },
    });
  },
});
