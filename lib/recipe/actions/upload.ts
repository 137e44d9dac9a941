import { StepFailure } from "../../errors.ts";
import { shellWord } from "../../_text.ts";
import { defineAction } from "./action.ts";
import { opt, required } from "./options.ts";

/**
 * `upload: { from, to, mode }`: a file of this machine (a relative path is
 * read from the recipe's folder) written into the guest through its agent,
 * binary-safe.
 */
export default defineAction({
  key: "upload",
  summary:
    "copy a file from this machine (relative: from the recipe's folder) into the guest (agent): from, to, mode",
  options: {
    from: required(opt.template("the file here")),
    to: required(opt.template("the path in the guest")),
    mode: opt.string("its permissions in the guest, octal: 0644", { pattern: "^[0-7]{3,4}$" }),
  },
  mutates: () => true,
  requires: () => "agent",
  validate: (action) =>
    action.mode === undefined || /^[0-7]{3,4}$/.test(action.mode)
      ? undefined
      : `upload: mode is octal permissions like 0644, not ${JSON.stringify(action.mode)}`,
  async run(action, { vm, timeout, signal, render, lab }) {
    const given = render(action.from), to = render(action.to);
    const from = given.startsWith("/") ? given : `${lab.recipeDir ?? "."}/${given}`;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(from);
    } catch (cause) {
      throw new StepFailure(`cannot read ${from} to upload: ${(cause as Error).message}`, {
        vm: vm.name,
        cause,
      });
    }
    await vm.agent.writeFile(to, bytes, { timeout, signal });
    if (action.mode !== undefined) {
      const chmod = await vm.agent.exec(`chmod ${action.mode} ${shellWord(to)}`, {
        timeout,
        signal,
      });
      if (chmod.exitCode !== 0) {
        throw new StepFailure(`chmod ${action.mode} ${to} failed: ${chmod.stderr.trim()}`, {
          vm: vm.name,
        });
      }
    }
    return { from, to, bytes: bytes.length };
  },
});
