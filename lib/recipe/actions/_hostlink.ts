/**
 * What the steps that reach a guest's port from this machine share
 * (`forward`, `wait-port`): the port option, and the host link they need.
 *
 * @module
 */

import { hasHostlink } from "../../vm/spec.ts";
import type { InventoryVm } from "../model.ts";
import { opt, required } from "./options.ts";

/** The guest's TCP port. */
export const PORT_OPTIONS = { port: required(opt.integer(1, 65535, "a TCP port, 1–65535")) };

/** Why `vm` cannot be reached from this machine, or `undefined` when it can. */
export function noHostlink(vm: InventoryVm): string | undefined {
  return vm.spec && hasHostlink(vm.spec)
    ? undefined
    : "it has no host link (give it hostlink: true; builtin:debian has one)";
}
