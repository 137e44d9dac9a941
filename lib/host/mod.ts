/**
 * Hosts: where QEMUs run (this machine, SSH hosts, and kinds added as
 * one file each) and how QEMUs started elsewhere are reached (`ssh://`,
 * `libvirt:`).
 *
 * @example A host kind from one file
 * ```ts
 * import { defineHostKind, LOCAL, registerHostKind } from "./mod.ts";
 *
 * const here = defineHostKind({ name: "here", connect: () => Promise.resolve(LOCAL) });
 * using _registered = registerHostKind(here);
 * ```
 *
 * @module
 */

export * from "./host.ts";
export { LOCAL } from "./local.ts";
export type { QemuChild } from "../_process.ts";
export {
  ATTACH_KINDS,
  attachKindOf,
  connectHost,
  HOST_KINDS,
  registerHostKind,
} from "./registry.ts";
export { type HostRunOptions, type HostRunResult, SshHost } from "./ssh.ts";
export type { HostSpec, SshHostSpec } from "./spec.ts";
export { HostError } from "../errors.ts";
