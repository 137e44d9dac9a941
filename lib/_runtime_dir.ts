import { LaunchError } from "./errors.ts";

/** Unix socket paths longer than this fail (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * The private directory that holds every VM's sockets and logs:
 * `$CORRAL_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/corral`, else
 * `/tmp/corral-UID`. It is created 0700 and refused when another user owns
 * it or others may enter it.
 */
export async function runtimeBase(): Promise<string> {
  const base = Deno.env.get("CORRAL_RUNTIME_DIR") ??
    (Deno.env.get("XDG_RUNTIME_DIR") ? `${Deno.env.get("XDG_RUNTIME_DIR")}/corral` : undefined) ??
    `/tmp/corral-${Deno.uid()}`;
  await Deno.mkdir(base, { recursive: true, mode: 0o700 });
  const info = await Deno.lstat(base);
  const mode = info.mode ?? 0;
  if (!info.isDirectory || info.uid !== Deno.uid() || (mode & 0o077) !== 0) {
    throw new LaunchError(
      `the runtime directory ${base} is not private (it must be a directory owned by you ` +
        `with mode 0700, and is ${info.isSymlink ? "a symlink" : (mode & 0o777).toString(8)}): ` +
        `remove it, or set CORRAL_RUNTIME_DIR to another path`,
      {},
    );
  }
  return base;
}

/** A fresh private (0700) directory in the runtime directory, named `PREFIX…`. */
export async function makePrivateDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: await runtimeBase(), prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/** A fresh private directory for one VM, short enough for its socket paths. */
export async function makeVmDir(name: string): Promise<string> {
  const dir = await makePrivateDir(`${name.slice(0, 24)}-`);
  const longest = `${dir}/serial.sock`;
  if (new TextEncoder().encode(longest).length > MAX_SOCKET_PATH) {
    await Deno.remove(dir, { recursive: true });
    throw new LaunchError(
      `the socket path ${longest} is longer than ${MAX_SOCKET_PATH} bytes, ` +
        `which unix sockets cannot use: set CORRAL_RUNTIME_DIR to a shorter directory`,
      { vm: name },
    );
  }
  return dir;
}
