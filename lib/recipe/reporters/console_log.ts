import { Chain, vmDir, writeNew } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/** `vms/NAME/console.log`: what the VM's serial console printed in the whole run. */
export default defineReporter({
  name: "vms/*/console.log",
  open(dir) {
    const writes = new Chain();
    return Promise.resolve({
      on(event) {
        if (event.type !== "console") return;
        writes.add(async () => writeNew(`${await vmDir(dir, event.vm)}/console.log`, event.text));
      },
      finish: () => writes.done(),
    });
  },
});
