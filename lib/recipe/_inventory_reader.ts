/**
 * The recipe reader's inventory: `vms` (ranges, defaults, fields checked
 * as the launcher will), `hosts`, `networks` with their addresses, and
 * which VM sits where.
 *
 * @module
 */

import { type Node } from "yaml";
import type { Entries } from "./actions/parse_tools.ts";
import { didYouMean } from "../_suggest.ts";
import {
  DISK_NAME,
  type DiskSpec,
  imageGuest,
  isVmName,
  type LaunchSpec,
  PANIC_POLICIES,
  SPEC_FIELDS,
  validateSpec,
} from "../vm/launch.ts";
import type { HostSpec } from "../host/spec.ts";
import { addresses, type NetworkSpec } from "../vm/network.ts";
import { diskIds, hasRootDisk } from "../vm/spec.ts";
import { type InventoryVm } from "./model.ts";
import { ChecksReader } from "./_checks_reader.ts";

/** The inventory fields that go into the launch spec as they are (see `SPEC_FIELDS`). */
const SPEC_KEYS = Object.keys(SPEC_FIELDS);

/**
 * The files a VM launched here boots from that cannot be read: its kernel,
 * initrd, guest image and disk bases (on an SSH host they are the host's).
 */
function missingFiles(spec: LaunchSpec): string[] {
  if (spec.host !== undefined) return [];
  const files: [string, unknown][] = [
    ["kernel", spec.kernel],
    ["initrd", spec.initrd],
    ["guest", typeof spec.guest === "string" ? imageGuest(spec) : undefined],
    ...(Array.isArray(spec.disks) ? spec.disks : []).map((disk, i): [string, unknown] => [
      `disks[${i}].base`,
      (disk as { base?: unknown })?.base,
    ]),
  ];
  return files.flatMap(([what, path]) => {
    if (typeof path !== "string") return [];
    try {
      if (Deno.statSync(path).isFile) return [];
      return [`${what} ${path} is not a file`];
    } catch (error) {
      return error instanceof Deno.errors.NotFound
        ? [`${what} ${path} does not exist`]
        : error instanceof Deno.errors.NotCapable
        ? [] // no read permission here: launch will say
        : [`${what} ${path} cannot be read: ${(error as Error).message}`];
    }
  });
}

const ADDRESS_REF = /\$\{\{\s*vms\.([\w.-]+)\.address\.([\w-]+)\s*\}\}/g;

/** A recipe's `cloud-init` is the spec's `cloudInit`; `user-data` its `userData`. */
const camel = (key: string) => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A map's own keys in camel case (not its values': user data is the user's). */
function camelKeys(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), v]));
}

/** Every inventory field: the spec's, and those corral itself uses. */
const VM_KEYS = [...SPEC_KEYS, "groups", "attach", "networks"];
const HOST_KEYS = [
  "ssh",
  "port",
  "identity",
  "qemu",
  "runtime-dir",
  "known-hosts",
  "check-host-key",
  "address",
  "max-sessions",
];

/** More VMs than this need `maxVms` (`--max-vms`): a typo in a range should not launch a million. */
export const DEFAULT_MAX_VMS = 1000;

/** The inventory, hosts and networks of a recipe. */
export class InventoryReader extends ChecksReader {
  protected names = new Set<string>();
  protected maxVms = DEFAULT_MAX_VMS;
  protected networkSpecs: NetworkSpec[] = [];
  protected networkNodes = new Map<string, Node | null>();
  protected joins = new Map<string, string[]>();
  protected uplinks = new Set<string>();

  /**
   * `hosts: { h1: { ssh: user@host, port, identity, qemu, runtime-dir, known-hosts,
   * check-host-key, address } }`. No password has a place here: keys come from the SSH agent
   * or an identity file.
   */
  protected readHosts(node: Node | null): HostSpec[] {
    const entries = this.map(node, "hosts", true);
    const hosts: HostSpec[] = [];
    for (const [name, { key, value }] of entries ?? []) {
      if (!isVmName(name)) this.issue(key, `host name ${JSON.stringify(name)} is not a valid name`);
      const options = this.map(value, `hosts.${name}`);
      if (!options) continue;
      if (options.has("password")) {
        this.issue(
          options.get("password")!.key,
          "no password in a recipe: load a key into the SSH agent or name an identity file",
        );
        options.delete("password");
      }
      this.keys(options, HOST_KEYS, `hosts.${name}`);
      const text = (k: string) =>
        options.has(k) ? this.string(options.get(k)!.value, k) : undefined;
      const sshNode = this.required(options, "ssh", value);
      const ssh = this.string(sshNode, "ssh");
      if (ssh === undefined) continue;
      if (ssh.startsWith("-")) {
        // ssh would read it as an option (-oProxyCommand=… runs a command).
        this.issue(sshNode, `ssh must be user@host or host, not ${JSON.stringify(ssh)}`);
      }
      const port = options.has("port")
        ? this.positiveInt(options.get("port")!.value, "port")
        : undefined;
      const check = options.get("check-host-key")?.value;
      hosts.push({
        name,
        ssh,
        port,
        identity: text("identity"),
        qemu: text("qemu"),
        runtimeDir: text("runtime-dir"),
        knownHosts: text("known-hosts"),
        checkHostKey: check === undefined ? undefined : this.bool(check, "check-host-key"),
        address: text("address"),
        maxSessions: options.has("max-sessions")
          ? this.positiveInt(options.get("max-sessions")!.value, "max-sessions")
          : undefined,
      });
    }
    return hosts;
  }

  /** Every VM's `host` names a host of `hosts`, and no VM on a host joins a lab network. */
  protected placeOnHosts(hosts: readonly HostSpec[]): void {
    const names = hosts.map((h) => h.name);
    for (const vm of this.inventory) {
      const host = vm.spec?.host;
      if (host === undefined) continue;
      if (!names.includes(host)) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': no host '${host}' in hosts${didYouMean(host, names)}`,
        });
      } else if ((this.joins.get(vm.name) ?? []).length > 0) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': lab networks on SSH hosts are not supported yet`,
        });
      }
    }
  }

  /**
   * `networks: { lan: {}, mgmt: { subnet: 10.45.0.0/24, capture: true } }`: default subnets
   * 10.44.N.0/24; `via: bridge` for the kernel's bridge instead of corral's switch.
   */
  protected readNetworks(node: Node | null): void {
    const entries = this.map(node, "networks", true);
    [...(entries ?? [])].forEach(([name, { value }], index) => {
      const options = this.map(value, `networks.${name}`, true);
      if (options) this.keys(options, ["subnet", "via", "capture", "uplink"], `networks.${name}`);
      if (options?.has("uplink") && this.bool(options.get("uplink")!.value, "uplink")) {
        this.uplinks.add(name);
      }
      let subnet = `10.44.${index}.0/24`;
      const given = options?.get("subnet")?.value;
      if (given !== undefined) {
        const text = this.string(given, "subnet");
        const match = text && /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
        if (
          !match || match.slice(1, 5).some((o) => Number(o) > 255) || Number(match[5]) < 8 ||
          Number(match[5]) > 29
        ) {
          this.issue(given, `subnet must be like 10.45.0.0/24 (a prefix from /8 to /29)`);
        } else subnet = text;
      }
      const via = options?.has("via")
        ? this.oneOf(options.get("via")!.value, "via", ["switch", "bridge"] as const)
        : undefined;
      const capture = options?.has("capture")
        ? this.bool(options.get("capture")!.value, "capture")
        : undefined;
      if (capture && via === "bridge") {
        this.issue(options!.get("capture")!.key, "capture needs corral's switch: leave via out");
      }
      this.networkSpecs.push({
        name,
        subnet,
        members: [],
        ...(via ? { via } : {}),
        ...(capture ? { capture } : {}),
      });
      this.networkNodes.set(name, value);
    });
  }

  /** `disks: [{ base: image.qcow2 }, { name: data, size: 1G }]`. */
  protected disks(node: Node | null, where: string): DiskSpec[] | undefined {
    const disks = this.list(node).map((item): DiskSpec | undefined => {
      const entries = this.map(item, `${where} entry`);
      if (!entries) return undefined;
      this.keys(entries, ["name", "base", "size", "file"], `${where} entry`);
      const named = entries.get("name");
      const name = named && this.string(named.value, "name");
      if (named && (name === undefined || !DISK_NAME.test(name))) {
        return this.issue(
          named.value,
          "a disk's name is a letter, then up to 23 letters, digits, '-' or '_'",
        );
      }
      const disk = this.diskSource(item, entries, where);
      return disk && name !== undefined ? { name, ...disk } : disk;
    });
    return disks.every((d) => d !== undefined) ? disks as DiskSpec[] : undefined;
  }

  /** A disk's `base` or `size`. */
  private diskSource(
    item: Node,
    entries: Entries,
    where: string,
  ): DiskSpec | undefined {
    {
      if (entries.has("file")) {
        const file = this.string(entries.get("file")!.value, "file");
        if (entries.has("base")) {
          return this.issue(item, `${where}: a disk is a file or has a base, not both`);
        }
        const size = entries.has("size") ? this.diskSize(entries) : undefined;
        if (file === undefined || (entries.has("size") && size === undefined)) return undefined;
        return size === undefined ? { file } : { file, size };
      }
      if (entries.has("base") === entries.has("size")) {
        return this.issue(item, `${where}: give each disk a base image or a size, not both`);
      }
      if (entries.has("base")) {
        const base = this.string(entries.get("base")!.value, "base");
        return base === undefined ? undefined : { base };
      }
      const size = this.diskSize(entries);
      return size === undefined ? undefined : { size };
    }
  }

  /** A disk's `size`, checked. */
  private diskSize(entries: Entries): string | undefined {
    const size = this.string(entries.get("size")!.value, "size");
    if (size !== undefined && !/^\d+[KMGT]?$/i.test(size)) {
      return this.issue(
        entries.get("size")!.value,
        `size must be like 512M or 2G, not ${JSON.stringify(size)}`,
      );
    }
    return size;
  }

  /** Each VM's NICs and addresses, in inventory order per network. */
  protected placeOnNetworks(): void {
    const names = this.networkSpecs.map((n) => n.name);
    for (const vm of this.inventory) {
      for (const network of this.joins.get(vm.name) ?? []) {
        if (!names.includes(network)) {
          this.issues.push({
            pos: vm.pos,
            message: `vm '${vm.name}': no network '${network}' is declared under networks${
              didYouMean(network, names)
            }`,
          });
        }
      }
    }
    for (const spec of this.networkSpecs) {
      const members = this.inventory.filter((vm) => this.joins.get(vm.name)?.includes(spec.name));
      // .0 is the network, .1 the lab's own end, the last the broadcast address.
      const room = 2 ** (32 - Number(spec.subnet.split("/")[1])) - 3;
      if (members.length > room) {
        this.issues.push({
          pos: members[room]!.pos,
          message: `network '${spec.name}' (${spec.subnet}) has room for ${room} VMs and ` +
            `${members.length} join it: give it a larger subnet`,
        });
      }
      for (const vm of members.filter((vm) => vm.spec?.template === "warm")) {
        this.issues.push({
          pos: vm.pos,
          message: `vm '${vm.name}': template: warm does not take lab networks yet`,
        });
      }
      spec.members = addresses(spec.subnet, members.map((vm) => vm.name));
      // An uplink on the network: each member's way out is its own host link (NAT).
      for (const vm of members.filter((vm) => this.uplinks.has(spec.name) && vm.spec)) {
        vm.spec!.uplink ??= true;
      }
      for (const member of spec.members) {
        const vm = this.inventory.find((v) => v.name === member.vm)!;
        (vm.networks as { name: string; address: string }[]).push({
          name: spec.name,
          address: member.address,
        });
      }
    }
  }

  protected readInventory(node: Node | null | undefined): void {
    this.deferAddresses = true;
    try {
      this.readVms(node);
    } finally {
      this.deferAddresses = false;
    }
  }

  /**
   * Fill in `${{ vms.NAME.address.NETWORK }}` in every VM's spec (its
   * text, and text inside its maps and lists, as `cloud-init`'s), now that
   * each VM has its addresses; a reference to nothing is an issue at the VM.
   */
  protected expandAddresses(): void {
    for (const vm of this.inventory) {
      if (!vm.spec) continue;
      const fill = (value: unknown): unknown => {
        if (typeof value === "string") {
          return value.replace(ADDRESS_REF, (ref, name, net) => {
            const nic = this.inventory.find((v) => v.name === name)?.networks.find((n) =>
              n.name === net
            );
            if (!nic) {
              this.issues.push({
                pos: vm.pos,
                message: `vm '${vm.name}': ${ref}: no VM '${name}' on network '${net}'`,
              });
            }
            return nic ? nic.address.split("/")[0]! : ref;
          });
        }
        if (Array.isArray(value)) return value.map(fill);
        if (value && typeof value === "object") {
          return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
        }
        return value;
      };
      const { name: _, ...fields } = vm.spec;
      Object.assign(vm.spec, fill(fields));
    }
  }

  private readVms(node: Node | null | undefined): void {
    const entries = this.map(node ?? null, "vms");
    if (!entries) return;
    const defaultsEntry = entries.get("defaults");
    const defaults = defaultsEntry ? this.vmFields(defaultsEntry.value, "vms.defaults", true) : {};
    const declared = [...entries].filter(([key]) => key !== "defaults").map(([key, entry]) => ({
      key,
      entry,
      range: /^([A-Za-z][\w.-]*?)\[(\d+):(\d+)\]$/.exec(key),
    }));
    // Count before expanding: a typo like web[1:1000000] must fail at once, not after a million names.
    const total = declared.reduce(
      (sum, { range }) => sum + (range ? Math.max(0, Number(range[3]) - Number(range[2]) + 1) : 1),
      0,
    );
    if (total > this.maxVms) {
      this.issue(
        node,
        `vms declares ${total} VMs, more than the ${this.maxVms} allowed: ` +
          `check the ranges, or raise the limit with --max-vms ${total}`,
      );
      return;
    }
    for (const { key, entry: { key: keyNode, value }, range } of declared) {
      const first = range ? Number(range[2]) : 0;
      const count = range ? Math.max(0, Number(range[3]) - first + 1) : 1;
      const names = range
        ? Array.from({ length: count }, (_, i) => `${range[1]}${first + i}`)
        : [key];
      if (range && names.length === 0) {
        this.issue(keyNode, `the range ${key} is empty: write name[FIRST:LAST] with FIRST ≤ LAST`);
      }
      const fields = this.vmFields(value, `vms.${key}`, false);
      for (const name of names) this.addVm(name, { ...defaults, ...fields }, keyNode);
    }
    if (this.inventory.length === 0) this.issue(node, "vms declares no VM");
  }

  protected vmFields(
    node: Node | null,
    where: string,
    isDefaults: boolean,
  ): Record<string, unknown> {
    const entries = this.map(node, where, true);
    if (!entries) return {};
    this.keys(entries, isDefaults ? VM_KEYS.filter((k) => k !== "attach") : VM_KEYS, where);
    const fields: Record<string, unknown> = {};
    for (const [key, { value }] of entries) {
      if (key === "disks") fields.disks = this.disks(value, `${where}.disks`);
      else if (key === "groups" || key === "args" || key === "networks") {
        const items = this.list(value).map((item) => this.string(item, `${where}.${key}`));
        if (items.every((item) => item !== undefined)) fields[key] = items;
      } else if (key === "cpus" || key === "maxcpus" || key === "slots") {
        fields[key] = this.positiveInt(value, `${where}.${key}`);
      } else if (key === "panic") {
        fields.panic = this.oneOf(value, `${where}.panic`, PANIC_POLICIES);
      } else if (key === "cloud-init") fields[key] = camelKeys(this.value(value));
      else fields[key] = this.value(value);
    }
    return fields;
  }

  protected addVm(name: string, fields: Record<string, unknown>, keyNode: Node): void {
    const pos = this.pos(keyNode);
    if (this.names.has(name)) {
      this.issue(keyNode, `VM '${name}' is declared twice`);
      return;
    }
    this.names.add(name);
    if (name === "all") {
      this.issue(keyNode, "'all' is the group of every VM: name the VM something else");
    }
    const groups = (fields.groups as string[] | undefined) ?? [];
    if (typeof fields.attach === "string") {
      // Attached VMs obey the name rule too: a name becomes a report path.
      for (const problem of validateSpec({ name })) {
        this.issues.push({ pos, message: `vm '${name}': ${problem}` });
      }
      const vm: InventoryVm = { name, groups, attach: fields.attach, pos, networks: [] };
      if (fields.networks !== undefined) {
        this.issues.push({ pos, message: `vm '${name}': an attached VM cannot join lab networks` });
      }
      if (typeof fields.agent === "string") vm.agent = fields.agent;
      else if (fields.agent !== undefined) {
        this.issues.push({
          pos,
          message: `vm '${name}': agent of an attached VM is its socket, unix:/path`,
        });
      }
      this.inventory.push(vm);
      return;
    }
    if (fields.agent !== undefined && typeof fields.agent !== "boolean") {
      this.issues.push({
        pos,
        message: `vm '${name}': agent is true or false for a VM corral launches`,
      });
    }
    const spec: LaunchSpec = { name };
    for (const key of SPEC_KEYS) {
      if (fields[key] !== undefined) {
        (spec as unknown as Record<string, unknown>)[camel(key)] = fields[key];
      }
    }
    const rootTaken = hasRootDisk(spec) && diskIds(spec).includes("root")
      ? ["disks: root is its guest's own disk (the image's overlay): name yours otherwise"]
      : [];
    for (const problem of [...validateSpec(spec), ...missingFiles(spec), ...rootTaken]) {
      this.issues.push({ pos, message: `vm '${name}': ${problem}` });
    }
    this.inventory.push({ name, groups, spec, pos, networks: [] });
    this.joins.set(name, (fields.networks as string[] | undefined) ?? []);
  }
}
