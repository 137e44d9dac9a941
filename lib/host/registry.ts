/**
 * Every host kind and attach kind, in one place. Adding one is a file
 * beside this one and one line here (`registry_test.ts` fails while a
 * file's kind is missing); `registerHostKind` adds one from outside.
 *
 * @module
 */

import { CorralError, HostError } from "../errors.ts";
import type { AttachKind, Host, HostKind } from "./host.ts";
import { libvirtAttach } from "./libvirt.ts";
import type { HostSpec } from "./spec.ts";
import { sshAttach, sshHosts } from "./ssh_kind.ts";

const hostKinds: HostKind[] = [sshHosts];

/** The attach address kinds (`unix:` and `tcp:` are QMP's own and need none). */
export const ATTACH_KINDS: readonly AttachKind[] = [sshAttach, libvirtAttach];

/** Every host kind (and any registered since). */
export const HOST_KINDS: readonly HostKind[] = hostKinds;

/** The attach kind of `address`, if it is not a plain `unix:`/`tcp:` one. */
export function attachKindOf(address: string | undefined): AttachKind | undefined {
  return address === undefined ? undefined : ATTACH_KINDS.find((kind) => kind.matches(address));
}

/**
 * Connect the host a spec describes, by its `kind` (default `ssh`).
 *
 * @throws {HostError} No such kind, or the host could not be reached.
 */
export function connectHost(spec: HostSpec): Promise<Host> {
  const name = spec.kind ?? "ssh";
  const kind = hostKinds.find((k) => k.name === name);
  if (!kind) {
    const known = hostKinds.map((k) => k.name).join(", ");
    return Promise.reject(
      new HostError(`no host kind '${name}' (there are: ${known})`, { host: spec.name }),
    );
  }
  return kind.connect(spec);
}

/**
 * Add a host kind defined outside this folder until the handle is disposed.
 *
 * @example
 * ```ts
 * import { defineHostKind } from "./host.ts";
 * import { LOCAL } from "./local.ts";
 * import { HOST_KINDS, registerHostKind } from "./registry.ts";
 * import assert from "node:assert/strict";
 *
 * {
 *   using _kind = registerHostKind(defineHostKind({ name: "here", connect: () => Promise.resolve(LOCAL) }));
 *   assert.ok(HOST_KINDS.some((k) => k.name === "here"));
 * }
 * assert.ok(!HOST_KINDS.some((k) => k.name === "here"));
 * ```
 */
export function registerHostKind(kind: HostKind): Disposable {
  if (hostKinds.some((k) => k.name === kind.name)) {
    throw new CorralError(`a host kind '${kind.name}' is registered already`);
  }
  hostKinds.push(kind);
  return {
    [Symbol.dispose]() {
      const at = hostKinds.indexOf(kind);
      if (at >= 0) hostKinds.splice(at, 1);
    },
  };
}
