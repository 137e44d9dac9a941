/**
 * SSH hosts for the tests, on this machine: each a network namespace of
 * the test's own with an sshd on a private address that exists only
 * between this machine and that namespace (a veth pair), plus one link
 * between every two hosts for migration streams. Keys, known_hosts and
 * runtime directories live in a temporary directory; everything goes at
 * dispose, also when the test failed. Needs root.
 */

import assert from "node:assert/strict";
import type { HostSpec } from "../lib/host/ssh.ts";
import { parseRecipe, runRecipe, type StepRecord } from "../mod.ts";

type TargetRecord = StepRecord["targets"][number];

/** The test hosts. */
export interface TestHosts extends AsyncDisposable {
  /** Host specs for `hosts:` / `Lab.launch`, keys and known_hosts filled in. */
  specs: HostSpec[];
  /** The known_hosts file with every host's key. */
  knownHosts: string;
  /** The user key. */
  identity: string;
  /** The directory everything lives in. */
  dir: string;
  /** Kill every process of host `index` (its sshd, sessions and QEMUs): the host drops. */
  drop(index: number): Promise<void>;
  /** The network namespace of host `index`, to start processes "on" it. */
  namespace(index: number): string;
  /** The hosts' user, whom processes started on a host by hand should run as. */
  user: string;
  /** The recipe `hosts:` mapping as YAML lines (indented two spaces). */
  yaml(): string;
}

async function sh(command: string): Promise<string> {
  const output = await new Deno.Command("sh", { args: ["-c", command], stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!output.success) throw new Error(`${command}: ${text.decode(output.stderr)}`);
  return text.decode(output.stdout);
}

/** The hosts' user, made for the tests when it does not exist. */
const USER = "corraltest";

/** Whether this machine can host them (root, ip, sshd). */
export function canMakeHosts(): boolean {
  try {
    return Deno.uid() === 0 && Deno.statSync("/usr/sbin/sshd").isFile;
  } catch {
    return false;
  }
}

/** Make `count` hosts (at most 4). */
export async function testHosts(count: number): Promise<TestHosts> {
  const tag = (Deno.pid % 10000).toString(36);
  const dir = await Deno.makeTempDir({ prefix: "corral-hosts-" });
  // The hosts' user enters it (its runtime directories are inside); the keys stay private.
  await Deno.chmod(dir, 0o755);
  const names = Array.from({ length: count }, (_, i) => `ct${tag}h${i + 1}`);
  const sshds: Deno.ChildProcess[] = [];
  let createdUser = false;
  const cleanup = async () => {
    for (const sshd of sshds) {
      try {
        sshd.kill("SIGKILL");
      } catch { /* gone */ }
      await sshd.status;
    }
    for (const ns of names) {
      await sh(
        `ip netns pids ${ns} 2>/dev/null | xargs -r kill -9; ip netns del ${ns} 2>/dev/null; ` +
          `ip link del ${ns}a 2>/dev/null; true`,
      );
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (createdUser) await sh(`userdel ${USER} 2>/dev/null; true`);
  };
  try {
    // A run killed before its cleanup can leave its links (and their routes) behind: ours by name.
    await sh(
      `for l in $(ip -o link show | sed -nE 's/^[0-9]+: (ct[0-9a-z]+h[0-9]a)@.*/\\1/p'); do ` +
        `ip link del "$l"; done; true`,
    );
    await sh(`mkdir -p /run/sshd && chmod 755 /run/sshd`);
    await sh(
      `ssh-keygen -q -t ed25519 -N '' -f ${dir}/id && ssh-keygen -q -t ed25519 -N '' -f ${dir}/host`,
    );
    await Deno.copyFile(`${dir}/id.pub`, `${dir}/authorized_keys`);
    await Deno.chmod(`${dir}/authorized_keys`, 0o644); // sshd reads it as the user
    // A user of the tests' own with /bin/sh: no login files run per command (root's may be slow,
    // and a session killed in the middle of them can leave locks behind), and QEMU runs
    // unprivileged on the hosts, as it would for most users.
    createdUser = !(await sh(`id -u ${USER} >/dev/null 2>&1 && echo yes || true`)).includes("yes");
    // '*': no password, yet not a locked account (which sshd refuses without PAM).
    if (createdUser) await sh(`useradd -M -N -p '*' -s /bin/sh -d ${dir} ${USER}`);
    const hostKey = (await Deno.readTextFile(`${dir}/host.pub`)).split(" ").slice(0, 2).join(" ");
    const specs: HostSpec[] = [];
    const known: string[] = [];
    for (const [i, ns] of names.entries()) {
      const { spec, process } = await startHost(dir, ns, i + 1);
      sshds.push(process);
      specs.push(spec);
      known.push(`${spec.ssh!.split("@")[1]} ${hostKey}`);
    }
    if (count >= 2) await linkHosts(names, specs);
    await Deno.writeTextFile(`${dir}/known_hosts`, known.join("\n") + "\n");
    for (const spec of specs) await waitForLogin(spec, dir);
    return {
      specs,
      knownHosts: `${dir}/known_hosts`,
      identity: `${dir}/id`,
      dir,
      namespace: (index) => names[index]!,
      user: USER,
      drop: async (index) => {
        await sh(`ip netns pids ${names[index]} | xargs -r kill -9`);
      },
      yaml: () =>
        specs.map((h) =>
          `  ${h.name}: { ssh: ${h.ssh}, identity: ${h.identity}, known-hosts: ${h.knownHosts}, ` +
          `runtime-dir: ${h.runtimeDir}, qemu: ${h.qemu}${
            h.address ? `, address: ${h.address}` : ""
          } }`
        ).join("\n"),
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** One test host: a network namespace with its own sshd at 10.251.N.2. */
async function startHost(
  dir: string,
  ns: string,
  n: number,
): Promise<{ spec: HostSpec; process: Deno.ChildProcess }> {
  const address = `10.251.${n}.2`;
  await sh(
    `ip netns add ${ns} && ip link add ${ns}a type veth peer name ${ns}b && ` +
      `ip link set ${ns}b netns ${ns} && ip addr add 10.251.${n}.1/30 dev ${ns}a && ` +
      `ip link set ${ns}a up && ip -n ${ns} addr add ${address}/30 dev ${ns}b && ` +
      `ip -n ${ns} link set ${ns}b up && ip -n ${ns} link set lo up`,
  );
  const config = `${dir}/sshd_${n}.conf`;
  await Deno.writeTextFile(
    config,
    [
      `ListenAddress ${address}`,
      "Port 22",
      `HostKey ${dir}/host`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "PermitRootLogin no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "AllowStreamLocalForwarding yes",
      "UsePAM no",
      "StrictModes no",
      `PidFile ${dir}/sshd_${n}.pid`,
      "LogLevel ERROR",
    ].join("\n") + "\n",
  );
  const process = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", config],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const runtime = `${dir}/run${n}`;
  await sh(`mkdir -m 700 ${runtime} && chown ${USER} ${runtime}`);
  const spec: HostSpec = {
    name: `h${n}`,
    ssh: `${USER}@${address}`,
    identity: `${dir}/id`,
    knownHosts: `${dir}/known_hosts`,
    runtimeDir: runtime,
    qemu: Deno.env.get("CORRAL_QEMU") ?? "qemu-system-x86_64",
    address: undefined,
  };
  return { spec, process };
}

/** A link between host 1 and host 2, for migration streams: host 2 is reached at 10.251.9.2. */
async function linkHosts(names: string[], specs: HostSpec[]): Promise<void> {
  const [a, b] = names;
  await sh(
    `ip link add ${a}m type veth peer name ${b}m && ip link set ${a}m netns ${a} && ` +
      `ip link set ${b}m netns ${b} && ip -n ${a} addr add 10.251.9.1/30 dev ${a}m && ` +
      `ip -n ${b} addr add 10.251.9.2/30 dev ${b}m && ip -n ${a} link set ${a}m up && ` +
      `ip -n ${b} link set ${b}m up`,
  );
  specs[0]!.address = "10.251.9.1";
  specs[1]!.address = "10.251.9.2";
}

/** Ready when the host's sshd answers a real login. */
async function waitForLogin(spec: HostSpec, dir: string): Promise<void> {
  for (let i = 0;; i++) {
    const probe = await new Deno.Command("ssh", {
      args: [
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${dir}/known_hosts`,
        "-i",
        `${dir}/id`,
        spec.ssh!,
        "true",
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    if (probe.success) break;
    if (i > 200) throw new Error(`the test sshd of ${spec.name} does not answer`);
    await new Promise((r) => setTimeout(r, 25)); // polling a daemon's start, not a sync point
  }
}

/** One VM's record of a step, as a run on a test host left it. */
export type HostStep = (name: string) => TargetRecord;

/**
 * Run `steps` (YAML step lines, given the host's runtime directory for
 * files there) on a `builtin:linux` VM `r` with a 16 MiB disk `data`, on a
 * test host of its own; the run must pass. `check` looks at each step's
 * record while the host's files are still there.
 */
export async function onTestHost(
  name: string,
  steps: (dir: string) => string,
  check: (step: HostStep, dir: string) => Promise<void> | void,
): Promise<void> {
  await using hosts = await testHosts(1);
  const dir = hosts.specs[0]!.runtimeDir!;
  const text = `recipe: 1\nname: ${name}\nhosts:\n${hosts.yaml()}\nvms:\n` +
    `  r: { host: h1, guest: builtin:linux, disks: [{ name: data, size: 16M }] }\n` +
    `defaults: { timeout: 60s }\nsteps:\n  - { name: up, wait-agent: {} }\n${steps(dir)}` +
    `finally:\n  - { name: stop, stop: { grace: 0s } }\n`;
  const { journal } = await runRecipe(parseRecipe(text, `${name}.yaml`), { seed: 1 });
  assert.equal(journal.verdict, "pass", journal.reason);
  await check((step) => journal.steps.find((s) => s.name === step)!.targets[0]!, dir);
}
