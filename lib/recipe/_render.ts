/**
 * Templates rendered for one VM: `${{ vm.name }}` and `${{ seed }}`, the
 * references known only when a step runs.
 *
 * @module
 */

import { StepFailure } from "../errors.ts";
import type { Template } from "./model.ts";

/** Where a VM's guest port is forwarded to on this machine (`127.0.0.1:PORT`), if it is. */
export type Forwards = (vm: string, port: number) => string | undefined;

/**
 * A template's text for `vm`.
 *
 * @throws {StepFailure} It names a forward no step made yet.
 */
export function renderTemplate(
  template: Template,
  vm: string,
  seed: number,
  forwards: Forwards = () => undefined,
): string {
  return template.map((part) => {
    if (typeof part === "string") return part;
    if (part.ref !== "forward") return part.ref === "vm.name" ? vm : String(seed);
    const to = forwards(part.vm, part.port);
    if (to === undefined) {
      throw new StepFailure(
        `\${{ vms.${part.vm}.forward.${part.port} }}: no forward of port ${part.port} on ` +
          `${part.vm} yet: give it a forward: { port: ${part.port} } step first`,
        { vm },
      );
    }
    return to;
  }).join("");
}

/** Replace `{ $template }` leaves (from the parser) with their text for `vm`. */
export function renderValue(
  value: unknown,
  vm: string,
  seed: number,
  forwards?: Forwards,
): unknown {
  if (Array.isArray(value)) return value.map((item) => renderValue(item, vm, seed, forwards));
  if (value && typeof value === "object") {
    if ("$template" in value) {
      return renderTemplate((value as { $template: Template }).$template, vm, seed, forwards);
    }
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderValue(v, vm, seed, forwards)]),
    );
  }
  return value;
}
