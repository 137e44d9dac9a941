/**
 * Write `docs/recipe.schema.json` from the action registry:
 * `deno task gen-schema`. A test fails while the committed file differs.
 */

import { fileURLToPath } from "node:url";
import { recipeSchema } from "../lib/recipe/schema.ts";

const path = fileURLToPath(new URL("../docs/recipe.schema.json", import.meta.url));
await Deno.writeTextFile(path, JSON.stringify(recipeSchema(), null, 2) + "\n");
console.log(`wrote ${path}`);
