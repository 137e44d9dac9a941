/**
 * Whether a VM can take an action: what the action requires of it (a
 * console, an agent, being launched by corral) and the action's own word
 * (`unfit`: no lab network, no such disk). `plan` reports it at a step's
 * line; `fuzz` draws faults only onto VMs that can take them.
 *
 * @module
 */

import { attachKindOf } from "../host/registry.ts";
import { hasAgentChannel } from "../vm/launch.ts";
import type { Requirement } from "./actions/action.ts";
import { actionKind } from "./actions/registry.ts";
import type { ActionData, InventoryVm, Recipe } from "./model.ts";

/** Why a VM lacks what an action requires, for the message after "which". */
export const UNMET: Record<Requirement, string> = {
  agent:
    "has no guest agent (guest builtin:linux has one; else agent: true, or agent: unix:/path for an attached VM)",
  console: "has no serial console corral can use (attached, or guest none)",
  launched: "was not launched by corral (attached): corral never starts, stops or kills it",
};

/** Whether `vm` has what `needs` asks. */
export function meets(vm: InventoryVm, needs: Requirement): boolean {
  if (needs === "agent") {
    return vm.agent !== undefined || Boolean(attachKindOf(vm.attach)?.bringsAgent) ||
      (vm.spec !== undefined && hasAgentChannel(vm.spec));
  }
  return vm.attach === undefined && (needs !== "console" || vm.spec?.guest !== "none");
}

/** Why `vm` cannot take `action` in `recipe`, or `undefined` when it can. */
export function unableWhy(action: ActionData, vm: InventoryVm, recipe: Recipe): string | undefined {
  const kind = actionKind(action.kind);
  const needs = kind?.requires?.(action);
  if (needs && !meets(vm, needs)) return UNMET[needs];
  return kind?.unfit?.(action, vm, recipe);
}
