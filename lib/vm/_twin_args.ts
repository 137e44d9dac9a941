/**
 * A twin's QEMU command line, from the one a QEMU corral did not start was
 * given (`/proc/PID/cmdline`): the same machine and devices, so the
 * original's migration stream restores into it, with everything that
 * reaches outside it replaced — its disks by overlays of the original's
 * frozen images, its NICs by ports of a private switch (user-mode ones,
 * whose state is in the stream, cut off: `restrict=on`, no forwards), its sockets by
 * ones in its own folder, its monitors by corral's QMP — and what cannot
 * be isolated (shared memory, shared folders) refused.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";

/** What a twin gets instead of the original's resources. */
export interface TwinPlan {
  /** The twin's private folder: its QMP socket and the sockets it listens on. */
  dir: string;
  /** The original's folder (`/proc/PID/cwd`): relative paths of its command line are from there. */
  cwd: string;
  /** Each writable disk's image (absolute) → the twin's overlay of it. */
  disks: ReadonlyMap<string, string>;
  /** The switch port socket for a NIC's netdev id. */
  port(netdev: string): string;
}

/** A twin's command line and where its sockets went. */
export interface TwinArgs {
  /** QEMU's arguments (the binary not included), with `-incoming defer`. */
  args: string[];
  /** The twin's QMP socket. */
  qmp: string;
  /** Each socket the original listens on (absolute) → the twin's. */
  sockets: Map<string, string>;
}

/** Options that take no value. */
const FLAGS = new Set([
  "nodefaults",
  "daemonize",
  "S",
  "s",
  "enable-kvm",
  "no-reboot",
  "no-shutdown",
  "nographic",
  "snapshot",
  "no-user-config",
  "no-acpi",
  "no-hpet",
  "full-screen",
  "win2k-hack",
  "no-fd-bootchk",
  "only-migratable",
  "preconfig",
  "enable-sync-profile",
  "no-quit",
]);

/** Options the twin drops: monitors (corral adds its QMP), files and ports only the original owns. */
const DROPPED = new Set([
  "qmp",
  "qmp-pretty",
  "monitor",
  "mon",
  "daemonize",
  "pidfile",
  "incoming",
  "S",
  "D",
  "trace",
  "vnc",
  "spice",
  "display",
  "nographic",
  "loadvm",
  "runas",
  "chroot",
  "run-with",
  "gdb",
  "s",
]);

/** Options whose resources cannot be given to a twin apart from the original's. */
const REFUSED: Record<string, string> = {
  blockdev: "-blockdev graphs are not cloned yet (give disks with -drive)",
  hda: "give disks with -drive",
  hdb: "give disks with -drive",
  hdc: "give disks with -drive",
  hdd: "give disks with -drive",
  fda: "give disks with -drive",
  fdb: "give disks with -drive",
  pflash: "give disks with -drive",
  sd: "give disks with -drive",
  mtdblock: "give disks with -drive",
  fsdev: "a shared folder would be the original's",
  virtfs: "a shared folder would be the original's",
  "mem-path": "memory in a file would be the original's",
  nic: "give NICs with -netdev and -device",
  net: "give NICs with -netdev and -device",
};

/** One `key=value` list of QEMU's option syntax (`,,` is a comma), with its implied first value. */
interface Opts {
  implied: string | undefined;
  pairs: [string, string][];
}

/** Read QEMU's `a,b=c,d=e,,f` syntax. */
export function parseOpts(text: string): Opts {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "," && text[i + 1] === ",") {
      current += ",";
      i++;
    } else if (text[i] === ",") {
      parts.push(current);
      current = "";
    } else current += text[i];
  }
  parts.push(current);
  const first = parts[0] !== undefined && !parts[0].includes("=") ? parts.shift() : undefined;
  const pairs = parts.filter(Boolean).map((p): [string, string] => {
    const at = p.indexOf("=");
    return at < 0 ? [p, "on"] : [p.slice(0, at), p.slice(at + 1)];
  });
  return { implied: first, pairs };
}

/** Write QEMU's option syntax back. */
export function formatOpts(opts: Opts): string {
  const escape = (v: string) => v.replaceAll(",", ",,");
  return [
    ...(opts.implied !== undefined ? [escape(opts.implied)] : []),
    ...opts.pairs.map(([k, v]) => `${k}=${escape(v)}`),
  ].join(",");
}

const get = (opts: Opts, key: string) => opts.pairs.find(([k]) => k === key)?.[1];
const without = (opts: Opts, ...keys: string[]) => opts.pairs.filter(([k]) => !keys.includes(k));

/**
 * The twin's command line for the original's `argv` (its arguments, not
 * the binary).
 *
 * @throws {Error} Listing every option that cannot be given to a twin apart from the original.
 */
export function twinArgs(argv: readonly string[], plan: TwinPlan): TwinArgs {
  const rewriter = new Rewriter(plan, monitorChardevs(argv));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const name = token.replace(/^--?/, "");
    const value = FLAGS.has(name) ? undefined : argv[++i];
    if (!token.startsWith("-")) {
      rewriter.refused.push(`${token}: not an option (a disk image alone: give it with -drive)`);
    } else if (name in REFUSED) {
      rewriter.refused.push(`-${name}: ${REFUSED[name]}`);
    } else if (!DROPPED.has(name)) {
      out.push(...rewriter.option(name, value));
    }
  }
  if (rewriter.refused.length) {
    throw new Error(`its command line cannot be given to a twin: ${rewriter.refused.join("; ")}`);
  }
  const qmp = join(plan.dir, "qmp.sock");
  out.push("-qmp", `unix:${qmp.replaceAll(",", ",,")},server=on,wait=off`, "-display", "none");
  out.push("-incoming", "defer");
  return { args: out, qmp, sockets: rewriter.sockets };
}

/** The chardevs of `-mon` monitors (the twin drops them: corral adds its own QMP). */
function monitorChardevs(argv: readonly string[]): Set<string> {
  const ids = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--?/, "");
    if (name === "mon") ids.add(get(parseOpts(argv[i + 1] ?? ""), "chardev") ?? "");
    if (!FLAGS.has(name)) i++;
  }
  return ids;
}

/** Rewrites one option at a time, collecting what it refuses and the sockets it moves. */
class Rewriter {
  readonly refused: string[] = [];
  readonly sockets = new Map<string, string>();
  #plan: TwinPlan;
  #monitors: Set<string>;
  /** How many serial and parallel ports so far: each socket is named after its port. */
  #ports = new Map<string, number>();

  constructor(plan: TwinPlan, monitors: Set<string>) {
    this.#plan = plan;
    this.#monitors = monitors;
  }

  /** The twin's words for option `-name value`. */
  option(name: string, value: string | undefined): string[] {
    const opts = value === undefined ? undefined : parseOpts(value);
    if (name === "drive") return this.#drive(value!, opts!);
    if (name === "netdev" && opts!.implied === "user") {
      // User-mode networking has state in the stream: the twin keeps it, cut off (no forwards).
      const pairs = without(opts!, "restrict", "hostfwd", "guestfwd", "smb", "tftp", "bootfile");
      return ["-netdev", formatOpts({ implied: "user", pairs: [...pairs, ["restrict", "on"]] })];
    }
    if (name === "netdev") {
      const id = get(opts!, "id") ?? "";
      const path = this.#plan.port(id).replaceAll(",", ",,");
      return ["-netdev", `stream,id=${id},server=off,addr.type=unix,addr.path=${path}`];
    }
    if (name === "chardev") return this.#chardev(opts!);
    if (name === "serial" || name === "parallel") {
      const unix = /^unix:([^,]+)(,.*)?$/.exec(value!);
      const n = this.#ports.get(name) ?? 0;
      this.#ports.set(name, n + 1);
      if (unix) {
        return [`-${name}`, `unix:${this.#socket(unix[1]!, `${name}${n}`)}${unix[2] ?? ""}`];
      }
      return [`-${name}`, value!.startsWith("chardev:") || value === "none" ? value! : "null"];
    }
    if (
      name === "object" && (get(opts!, "mem-path") !== undefined || get(opts!, "share") === "on")
    ) {
      this.refused.push(`-object ${value}: memory shared with the original`);
      return [];
    }
    return [`-${name}`, ...(value === undefined ? [] : [value])];
  }

  #absolute(path: string): string {
    return isAbsolute(path) ? path : join(this.#plan.cwd, path);
  }

  /** A socket of the twin's own for one the original listens on. */
  #socket(original: string, id: string): string {
    const twin = join(this.#plan.dir, `${id}.sock`);
    this.sockets.set(this.#absolute(original), twin);
    return twin;
  }

  #drive(value: string, opts: Opts): string[] {
    const file = get(opts, "file");
    const readOnly = get(opts, "readonly") === "on" || get(opts, "media") === "cdrom";
    const twin = file === undefined ? undefined : this.#plan.disks.get(this.#absolute(file));
    if (twin !== undefined) {
      const pairs: [string, string][] = [
        ["file", twin],
        ["format", "qcow2"],
        ...without(opts, "file", "format"),
      ];
      return ["-drive", formatOpts({ implied: undefined, pairs })];
    }
    if (file === undefined || readOnly) return ["-drive", value];
    this.refused.push(`-drive ${value}: a writable disk corral did not snapshot`);
    return [];
  }

  #chardev(opts: Opts): string[] {
    const id = get(opts, "id") ?? "";
    if (this.#monitors.has(id)) return [];
    const path = get(opts, "path");
    if (opts.implied !== "socket" || path === undefined) return ["-chardev", `null,id=${id}`];
    const pairs: [string, string][] = [
      ...without(opts, "path"),
      ["path", this.#socket(path, `chardev-${id}`)],
    ];
    return ["-chardev", formatOpts({ implied: "socket", pairs })];
  }
}
