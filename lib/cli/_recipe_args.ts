/**
 * What `run`, `check` and `plan` share: the recipe file, `--var` and
 * `--secret-var` (masked in every message, errors included), `--seed`,
 * `--max-vms`, `--limit`, `--start-at`; the recipe is read and planned, and
 * its problems printed at their lines.
 *
 * @module
 */

import { parse } from "yaml";
import type { Recipe } from "../recipe/model.ts";
import { loadRecipe, type ParseOptions, RecipeError } from "../recipe/parse.ts";
import { type Plan, planRecipe, randomSeed } from "../recipe/plan.ts";
import { isSecretName, Redactor } from "../recipe/secrets.ts";
import { assignments, userPath, wholeNumber } from "./_args.ts";
import { type CommandContext, type Flags, text, texts } from "./command.ts";

/** The flags every recipe command takes. */
export const RECIPE_FLAGS: Flags = {
  var: { type: "string", multiple: true, default: [] },
  "secret-var": { type: "string", multiple: true, default: [] },
  "var-file": { type: "string" },
  "max-vms": { type: "string" },
};

/** The prefix of environment variables that set recipe variables (their values secret). */
export const ENV_VAR_PREFIX = "CORRAL_VAR_";

/**
 * Secret values from where no terminal or `ps` shows them: a YAML file of
 * `NAME: value` (`--var-file`) and `CORRAL_VAR_NAME` variables of the
 * environment — those only for variables the recipe declares, as the
 * environment serves every recipe.
 */
async function hiddenVars(
  file: string | undefined,
  declared: () => Promise<readonly string[]>,
  problems: string[],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const env = Object.entries(Deno.env.toObject()).filter(([k]) => k.startsWith(ENV_VAR_PREFIX));
  if (env.length) {
    const names = await declared();
    for (const [key, value] of env) {
      const name = key.slice(ENV_VAR_PREFIX.length);
      if (names.includes(name)) out[name] = value;
    }
  }
  if (file === undefined) return out;
  try {
    const data = parse(await Deno.readTextFile(file));
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new Error("not a mapping");
    }
    for (const [name, value] of Object.entries(data)) {
      if (typeof value === "object" && value !== null) {
        throw new Error(`${name}: not a plain value`);
      }
      out[name] = String(value);
    }
  } catch (error) {
    problems.push(
      `--var-file ${file}: a YAML mapping of NAME: value (${(error as Error).message})`,
    );
  }
  return out;
}

/** A recipe read and planned for a command. */
export interface LoadedRecipe {
  recipe: Recipe;
  /** The seed picks come from (given, or drawn). */
  seed: number;
  /** `--limit`, `--start-at` and `--resume-from`. */
  control: {
    limit: string | undefined;
    startAt: string | undefined;
    resumeFrom: string | undefined;
  };
  /** The plan, made once: the run runs it as it is. */
  plan: Plan;
  /** What the recipe was read with (`--var`, `--secret-var`, `--max-vms`): to read it again. */
  parsing: ParseOptions;
}

/**
 * Read the command's recipe and plan it once; on a problem print it (and
 * the usage for flag problems) and resolve to exit code 2. `more` adds the
 * command's own flag problems.
 */
export async function loadRecipeFor(
  name: string,
  usage: string,
  { values, positionals }: CommandContext,
  more: (problems: string[]) => void = () => {},
): Promise<LoadedRecipe | number> {
  const problems: string[] = [];
  if (positionals.length !== 1) {
    problems.push(`expected one recipe file, got ${positionals.length}`);
  }
  const vars = assignments(texts(values, "var"), "--var", problems);
  const file = userPath(positionals[0]);
  const declared = async () =>
    file === undefined
      ? []
      : Object.keys((await loadRecipe(file).catch(() => undefined))?.vars ?? {});
  const secretVars = {
    ...await hiddenVars(userPath(text(values, "var-file")), declared, problems),
    ...assignments(texts(values, "secret-var"), "--secret-var", problems),
  };
  // Secrets given on the command line are masked in every message, errors included.
  const cliSecrets = new Redactor({ ...vars, ...secretVars }, [
    ...Object.keys(vars).filter(isSecretName),
    ...Object.keys(secretVars),
  ]);
  const seed = wholeNumber(text(values, "seed"), "--seed", 0, 0xffffffff, problems);
  const maxVms = wholeNumber(text(values, "max-vms"), "--max-vms", 1, Infinity, problems);
  more(problems);
  if (problems.length > 0) {
    console.error(cliSecrets.text(`corral ${name}: ${problems.join("\n")}\n\n${usage}`));
    return 2;
  }
  const runSeed = seed ?? randomSeed();
  const control = {
    limit: text(values, "limit"),
    startAt: text(values, "start-at"),
    resumeFrom: text(values, "resume-from"),
  };
  try {
    const parsing = { vars, secretVars, maxVms };
    const recipe = await loadRecipe(userPath(positionals[0])!, parsing);
    const plan = planRecipe(recipe, runSeed, control);
    return { recipe, seed: runSeed, control, plan, parsing };
  } catch (error) {
    if (error instanceof RecipeError) {
      console.error(cliSecrets.text(error.message));
      console.error(`${error.issues.length} problem(s); nothing was run.`);
      return 2;
    }
    throw error;
  }
}
