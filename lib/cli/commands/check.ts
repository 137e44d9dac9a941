import { isBlock } from "../../recipe/actions/block.ts";
import type { Qmp } from "../../recipe/actions/qmp.ts";
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
    const all = flatten([...recipe.steps, ...recipe.finally]);
    const qmpSteps = all.filter((step) => step.action.kind === "qmp");
    if (live && qmpSteps.length > 0) {
      const problems = await liveProblems(recipe, qmpSteps);
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

async function liveProblems(recipe: Recipe, steps: Step[]): Promise<string[]> {
  const attached = recipe.inventory.find((vm) => vm.attach);
  const binary = recipe.inventory.find((vm) => vm.spec)?.spec?.qemu;
  await using vm = attached
    ? await Vm.connect(attached.attach!, { name: attached.name })
    : await launch({ name: "corral-check", guest: "none", qemu: binary });
  const schema = await vm.schema();
  const version = `QEMU ${vm.qemuVersion.major}.${vm.qemuVersion.minor}.${vm.qemuVersion.micro}`;
  const problems: string[] = [];
  for (const step of steps) {
    const action = step.action as Qmp;
    if (JSON.stringify(action.arguments ?? null).includes('"$template"')) continue;
    const args = action.arguments as Record<string, unknown> | undefined;
    for (const problem of schema.check(action.execute, args)) {
      problems.push(`${step.pos.file}:${step.pos.line}:${step.pos.col}: ${problem} (${version})`);
    }
  }
  return problems;
}

function flatten(steps: readonly Step[]): Step[] {
  return steps.flatMap((step) =>
    isBlock(step.action)
      ? [step, ...flatten([...step.action.steps, ...step.action.rescue, ...step.action.always])]
      : [step]
  );
}
