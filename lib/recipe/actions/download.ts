import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";
import { reportFile } from "../report_files.ts";

/**
 * `download: { from, to }`: a file of the guest (through its agent) written
 * into the VM's folder of the report (`vms/VM/TO`, default the file's
 * name); nothing is written outside the report directory.
 */
export default defineAction({
  key: "download",
  summary:
    "copy a file from the guest (agent) into the VM's report folder: from, to (a name in it)",
  options: {
    from: required(opt.template("the path in the guest")),
    to: opt.string("where in the VM's report folder (default: the file's name)"),
  },
  mutates: () => false,
  requires: () => "agent",
  validate: (action) =>
    action.to !== undefined && (action.to.startsWith("/") || action.to.split("/").includes(".."))
      ? "download: to is a path inside the VM's report folder: no leading /, no .."
      : undefined,
  async run(action, { vm, timeout, signal, render, lab }) {
    const from = render(action.from);
    const name = action.to ?? from.split("/").filter(Boolean).pop() ?? "download";
    const file = await reportFile(lab.reportDir, vm.name, name, "download");
    const bytes = await vm.agent.readBytes(from, { timeout, signal });
    await Deno.writeFile(file.path, bytes, { mode: 0o600 });
    return { from, to: file.relative, bytes: bytes.length };
  },
});
