/**
 * The step tree, walked once: a step, then the steps its action holds
 * (`children`, as a block's steps, rescue and always), depth first.
 *
 * @module
 */

import { actionKind } from "./actions/registry.ts";
import type { ActionKind } from "./actions/action.ts";
import type { Step } from "./model.ts";

/**
 * Every step of `steps` and of the steps they hold, in document order.
 *
 * @example
 * ```ts
 * import { parseRecipe } from "./parse.ts";
 * import { everyStep } from "./walk.ts";
 * import assert from "node:assert/strict";
 *
 * const recipe = parseRecipe(
 *   "recipe: 1\nname: w\nvms: { a: {} }\nsteps:\n" +
 *     "  - { name: outer, block: [{ name: inner, pause: {} }], always: [{ name: last, resume: {} }] }\n",
 *   "w.yaml",
 * );
 * assert.deepEqual(everyStep(recipe.steps).map((s) => s.name), ["outer", "inner", "last"]);
 * ```
 */
export function everyStep(
  steps: readonly Step[],
  kinds: (key: string) => ActionKind | undefined = actionKind,
): Step[] {
  return steps.flatMap((step) => [
    step,
    ...(kinds(step.action.kind)?.children?.(step.action) ?? []).flatMap((inner) =>
      everyStep(inner, kinds)
    ),
  ]);
}
