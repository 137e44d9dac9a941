import { actionKind } from "../../recipe/actions/registry.ts";
import { everyStep } from "../../recipe/walk.ts";
import type { Recipe, Step } from "../../recipe/model.ts";
import { launch } from "../../vm/launch.ts";
import { Vm } from "../../vm/vm.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand, flag } from "../command.ts";

const USAGE = `usage: corral check RECIPE [options]

Validate a recipe without running anything: every problem is reported as
FILE:LINE:COL: message, and the exit code is 2 if there is any.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --secret-var NAME=VALUE
                     the same, masked in every message
  --var-file FILE    variables from a YAML file of NAME: value, masked everywhere
                     (CORRAL_VAR_NAME in the environment sets a declared NAME too):
                     secrets that no terminal, shell history or ps shows
  --max-vms N        allow an inventory of more than 1000 VMs
  --live             also check each qmp step's command and arguments against
                     QEMU's own schema (starts a QMP-only QEMU, or asks the
                     attached VMs; launches no guest)
  -h, --help         this help`;

/** `corral check RECIPE`: every problem at its line; with --live, qmp steps against QEMU. */
export default defineCommand({
  name: "check",
  synopsis: "RECIPE [options]",
  usage: USAGE,
  flags: { ...RECIPE_FLAGS, live: { type: "boolean", default: false } },
  async run(context) {
    const loaded = await loadRecipeFor("check", USAGE, context);
    if (typeof loaded === "number") return loaded;
    const { recipe } = loaded;
    const live = flag(context.values, "live");
    const all = everyStep([...recipe.steps, ...recipe.finally]);
    const checked = all.filter((step) => actionKind(step.action.kind)?.checkLive);
    if (live && checked.length > 0) {
      const problems = await liveProblems(recipe, checked);
      if (problems.length > 0) {
        for (const problem of problems) console.error(problem);
        console.error(`${problems.length} problem(s) against QEMU's schema.`);
        return 2;
      }
    }
    console.log(
      `${recipe.file}: ok: ${recipe.inventory.length} VM(s), ${all.length} step(s)${
        live ? ", qmp steps checked against QEMU's schema" : ""
      }`,
    );
    return 0;
  },
});

/** Each step's `checkLive` problems, asked of a QMP-only QEMU (or an attached VM). */
async function liveProblems(recipe: Recipe, steps: Step[]): Promise<string[]> {
  const attached = recipe.inventory.find((vm) => vm.attach);
  const binary = recipe.inventory.find((vm) => vm.spec)?.spec?.qemu;
  await using vm = attached
    ? await Vm.connect(attached.attach!, { name: attached.name })
    : await launch({ name: "corral-check", guest: "none", qemu: binary });
  const problems: string[] = [];
  for (const step of steps) {
    const found = await actionKind(step.action.kind)!.checkLive!(step.action, vm);
    const { file, line, col } = step.pos;
    problems.push(...found.map((problem) => `${file}:${line}:${col}: ${problem}`));
  }
  return problems;
}
