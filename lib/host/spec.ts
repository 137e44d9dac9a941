/**
 * How to reach a host: one description that the recipe reader, the host
 * kinds (see `registry.ts`) and the SSH connection share.
 *
 * @module
 */

/** How to reach a host, as `hosts:` in a recipe says. The other fields are an SSH host's. */
export interface HostSpec {
  /** The host's name in the inventory. */
  name: string;
  /** Its kind (see `registry.ts`). Default `ssh`. */
  kind?: string | undefined;
  /** `user@host` (or `host`), for an SSH host. */
  ssh?: string | undefined;
  /** The SSH port. Default 22. */
  port?: number | undefined;
  /** A private key file; default: the SSH agent and the user's own keys. */
  identity?: string | undefined;
  /** The QEMU binary on the host. Default `qemu-system-x86_64`. */
  qemu?: string | undefined;
  /** The private runtime directory on the host. Default `/tmp/corral-UID` there. */
  runtimeDir?: string | undefined;
  /** A known_hosts file to check the host key against. Default: the user's. */
  knownHosts?: string | undefined;
  /**
   * Check the host key (default `true`). `false` accepts any key: only for
   * throwaway labs, since anyone on the path can then pose as the host.
   */
  checkHostKey?: boolean | undefined;
  /** The address other hosts reach this one at, for migration streams. */
  address?: string | undefined;
  /**
   * Sessions the host's sshd allows on one connection (its `MaxSessions`,
   * 10 by default): each QEMU holds one, so past it corral opens another
   * connection. Default 10.
   */
  maxSessions?: number | undefined;
}

/** A host spec with the `ssh` destination an SSH host needs. */
export type SshHostSpec = HostSpec & { ssh: string };
