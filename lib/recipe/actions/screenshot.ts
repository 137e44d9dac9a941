import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
import { freshName, reportFile } from "../report_files.ts";

/**
 * `screenshot: { name }`: the VM's screen as a PNG in its report folder
 * (`vms/VM/NAME.png`, default `screen-1.png`, `screen-2.png`, …); the VMs
 * need `display: true`. `report.html` shows it at its moment.
 */
export default defineAction({
  key: "screenshot",
  summary: "the VM's screen as a PNG in its report folder (display: true)",
  options: { name: opt.string("the file's name without .png (default screen-N)") },
  mutates: () => false,
  requires: () => "launched",
  unfit: (_action, vm) => vm.spec?.display ? undefined : "it has no screen (give it display: true)",
  validate: (action) =>
    action.name !== undefined && !/^[\w.-]+$/.test(action.name)
      ? "screenshot: name is a file name: letters, digits, '.', '-', '_'"
      : undefined,
  async run(action, { vm, timeout, signal, lab }) {
    const name = action.name
      ? `${action.name}.png`
      : await freshName(lab.reportDir, vm.name, "screen", "png");
    const file = await reportFile(lab.reportDir, vm.name, name, "screenshot");
    await vm.screenshot(file.path, { timeout, signal });
    return { screenshot: file.relative };
  },
});
