/**
 * Templates rendered for one VM: `${{ vm.name }}` and `${{ seed }}`, the
 * references known only when a step runs.
 *
 * @module
 */

import type { Template } from "./model.ts";

/** A template's text for `vm`. */
export function renderTemplate(template: Template, vm: string, seed: number): string {
  return template.map((part) =>
    typeof part === "string" ? part : part.ref === "vm.name" ? vm : String(seed)
  ).join("");
}

/** Replace `{ $template }` leaves (from the parser) with their text for `vm`. */
export function renderValue(value: unknown, vm: string, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item) => renderValue(item, vm, seed));
  if (value && typeof value === "object") {
    if ("$template" in value) {
      return renderTemplate((value as { $template: Template }).$template, vm, seed);
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderValue(v, vm, seed)]),
    );
  }
  return value;
}
