/**
 * Set-up step of `deno task test` and `deno task demo`: make sure QEMU is
 * installed. As root it installs Debian's `qemu-system-x86` with apt-get;
 * otherwise it prints the exact command to run and exits 1.
 *
 * @module
 */

const QEMU = Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64";
const PACKAGES = ["qemu-system-x86"];
const INSTALL = `apt-get install -y --no-install-recommends ${PACKAGES.join(" ")}`;

async function qemuVersion(): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(QEMU, {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

async function run(command: string, args: string[]): Promise<void> {
  console.error(`corral setup: ${command} ${args.join(" ")}`);
  const { success, code } = await new Deno.Command(command, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`${command} exited with code ${code}`);
}

if (import.meta.main) {
  const found = await qemuVersion();
  if (found) {
    console.error(`corral setup: ${found}`);
  } else if (Deno.uid() !== 0) {
    console.error(
      `corral setup: ${QEMU} was not found. Install QEMU, then run this again:\n` +
        `  sudo apt-get update && sudo ${INSTALL}`,
    );
    Deno.exit(1);
  } else {
    console.error(`corral setup: ${QEMU} was not found; installing it (we are root)`);
    await run("apt-get", ["update", "-q"]);
    await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...PACKAGES]);
    const installed = await qemuVersion();
    if (!installed) {
      console.error(`corral setup: ${QEMU} is still missing after the install`);
      Deno.exit(1);
    }
    console.error(`corral setup: ${installed}`);
  }
}
