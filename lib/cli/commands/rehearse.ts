import { terminalLines } from "../../recipe/live/terminal.ts";
import { rehearseRecipe } from "../../recipe/rehearse.ts";
import { summary } from "../../recipe/report.ts";
import { userPath } from "../_args.ts";
import { interruptible } from "../_interrupts.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand, flag, text } from "../command.ts";

const USAGE = `usage: corral rehearse RECIPE [options]

Rehearse a recipe for VMs corral did not start (attach:) on twins of them.
Each attached QEMU on this machine is cloned: its memory copied while it
runs, then stopped only while its writable disks are frozen (it writes to
an overlay beside each image meanwhile) and the rest of its state saved. Its twin starts
from that state with the same machine and devices, its disks overlays of
the frozen images, its NICs on a private switch (no path to the originals),
its sockets its own. The recipe runs on the twins; then the twins are
stopped and each original's overlay is committed back into its image.

options:
  --then-run         run the recipe on the originals if the rehearsal passed
  --seed N           the seed both runs draw picks from (default: random, printed)
  --report DIR       the rehearsal's report in DIR/rehearsal (the real run's in DIR/real)
  --var, --secret-var, --var-file, --max-vms   as corral run
  -h, --help         this help

exit codes: the rehearsal's as corral run's (0 pass, 1 fail, 3 unknown,
4 error), or with --then-run after a passing rehearsal the real run's;
2 invalid input or a VM that cannot be cloned, 130 interrupted`;

/** `corral rehearse RECIPE`: the recipe on twins of its attached VMs first; `--then-run` for real. */
export default defineCommand({
  name: "rehearse",
  synopsis: "RECIPE [options]",
  usage: USAGE,
  flags: {
    ...RECIPE_FLAGS,
    "then-run": { type: "boolean", default: false },
    seed: { type: "string" },
    report: { type: "string" },
  },
  async run(context) {
    const loaded = await loadRecipeFor("rehearse", USAGE, context);
    if (typeof loaded === "number") return loaded;
    const { values } = context;
    const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
    const print = (line: string) => console.log(line);
    return await interruptible(
      "rehearse",
      print,
      "stopping the run; closing the twins",
      async (signal) => {
        const result = await rehearseRecipe(loaded.recipe, {
          seed: loaded.seed,
          thenRun: flag(values, "then-run"),
          reportDir: userPath(text(values, "report")),
          signal,
          listeners: [terminalLines(print, color)],
          log: print,
        });
        print(`\nrehearsal on twins:\n${summary(result.rehearsal, color)}`);
        const pauses = Object.entries(result.pauses).map(([vm, ms]) => `${vm} ${ms} ms`);
        print(`the originals stood still for their clones: ${pauses.join(", ")}`);
        if (result.real) print(`\non the originals:\n${summary(result.real, color)}`);
        return result.exitCode;
      },
    );
  },
});
