import { formatPlan, planRecipe } from "../../recipe/plan.ts";
import { Redactor } from "../../recipe/secrets.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand } from "../command.ts";

const USAGE = `usage: corral plan RECIPE [options]

Print what run would do: resolved targets, batches, seed, every step
(cleanup included) marked read-only or mutating. Touches nothing.

options:
  --var NAME=VALUE   set a recipe variable (repeatable)
  --secret-var NAME=VALUE
                     the same, masked in every message
  --var-file FILE    variables from a YAML file of NAME: value, masked everywhere
                     (CORRAL_VAR_NAME in the environment sets a declared NAME too):
                     secrets that no terminal, shell history or ps shows
  --seed N           seed for picks (default: random, printed)
  --max-vms N        allow an inventory of more than 1000 VMs
  --limit SELECTOR   show the run limited to these VMs
  --start-at STEP    show the run starting at the step named STEP
  -h, --help         this help`;

/** `corral plan RECIPE`: what run would do, touching nothing. */
export default defineCommand({
  name: "plan",
  synopsis: "RECIPE [options]",
  usage: USAGE,
  flags: {
    ...RECIPE_FLAGS,
    seed: { type: "string" },
    limit: { type: "string" },
    "start-at": { type: "string" },
  },
  async run(context) {
    const loaded = await loadRecipeFor("plan", USAGE, context);
    if (typeof loaded === "number") return loaded;
    const { recipe, seed, control } = loaded;
    const redact = new Redactor(recipe.vars, recipe.secrets);
    console.log(redact.text(formatPlan(planRecipe(recipe, seed, control))));
    return 0;
  },
});
