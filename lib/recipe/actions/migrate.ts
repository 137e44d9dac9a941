import { didYouMean } from "../../_suggest.ts";
import { defineAction } from "./action.ts";
import { defined, opt, withDefault } from "./options.ts";
import type { ActionData, Template } from "../model.ts";

interface Migrate extends ActionData {
  kind: "migrate";
  /** The new QEMU instance's name; default the VM's with -m1, -m2, … */
  to?: Template;
  /** The SSH host to move to (a name from hosts); default: where it runs. */
  host?: string;
  mode: "precopy" | "postcopy";
  postcopyAfter?: number;
  /** Bytes per second. */
  maxBandwidth?: number;
  downtimeLimit?: number;
  /** Another QEMU build to move onto (a path). */
  qemu?: string;
  autoConverge?: boolean;
  copyStorage?: boolean;
  stallTimeout?: number;
  deadlinePerGib?: number;
}

/**
 * `migrate: { to, host, qemu, copy-storage, mode, postcopy-after, max-bandwidth,
 * downtime-limit, auto-converge, stall-timeout, deadline-per-gib }`:
 * live-migrate the VM to a new QEMU started from its spec (on another host,
 * or another QEMU build with the machine type pinned); the recipe's VM
 * then is the destination (later steps, console, agent and reports follow
 * it) and the old QEMU is stopped. Its output has the migration's figures
 * (`downtimeMs`, `totalTimeMs`, …) for metrics.
 */
export default defineAction({
  key: "migrate",
  summary:
    "live-migrate the VM to a new QEMU from its spec (to: its name); the VM then runs there, the old one stops",
  options: {
    to: opt.template("the new instance's name; default NAME-m1, NAME-m2, …"),
    host: opt.string("the SSH host to move to; default: where it runs"),
    qemu: opt.string(
      "another QEMU build to move onto (a path), the VM's machine type pinned; an older build is refused",
    ),
    mode: withDefault(opt.oneOf(["precopy", "postcopy"] as const), "precopy"),
    "postcopy-after": opt.duration(),
    "max-bandwidth": opt.bytesPerSecond("bytes per second: 1G, 500M, or a number (default 1G)"),
    "downtime-limit": opt.duration(),
    "copy-storage": opt.bool(
      "copy the disks to the destination while the VM runs (to a host without its disk files)",
    ),
    "auto-converge": opt.bool(
      "throttle the guest's CPUs while it dirties memory faster than it is sent",
    ),
    "stall-timeout": opt.duration(
      "cancel when the RAM still to send has not shrunk for this long (KubeVirt's progressTimeout)",
    ),
    "deadline-per-gib": opt.duration(
      "a deadline per GiB of guest memory, when shorter than the step's",
    ),
  },
  build(values, tools, nodes): Migrate | undefined {
    const postcopyAfter = values["postcopy-after"];
    if (postcopyAfter !== undefined && values.mode !== "postcopy") {
      return tools.issue(nodes.get("postcopy-after")!.value, "postcopy-after needs mode: postcopy");
    }
    return defined({
      kind: "migrate" as const,
      to: values.to,
      host: values.host,
      qemu: values.qemu,
      mode: values.mode,
      postcopyAfter,
      maxBandwidth: values["max-bandwidth"],
      downtimeLimit: values["downtime-limit"],
      autoConverge: values["auto-converge"],
      copyStorage: values["copy-storage"],
      stallTimeout: values["stall-timeout"],
      deadlinePerGib: values["deadline-per-gib"],
    });
  },
  validate: (action, { hosts }) =>
    action.host === undefined || hosts.includes(action.host)
      ? undefined
      : `no host '${action.host}' in hosts${didYouMean(action.host, hosts)}`,
  mutates: () => true,
  requires: () => "launched",
  async run(action, { vm, timeout, signal, render }) {
    const moved = await vm.migrate({
      instance: action.to ? render(action.to) : undefined,
      changes: action.host === undefined ? undefined : { host: action.host },
      qemu: action.qemu,
      mode: action.mode,
      postcopyAfter: action.postcopyAfter,
      maxBandwidth: action.maxBandwidth,
      downtimeLimit: action.downtimeLimit,
      autoConverge: action.autoConverge,
      copyStorage: action.copyStorage,
      stallTimeout: action.stallTimeout,
      deadlinePerGib: action.deadlinePerGib,
      timeout,
      signal,
    });
    return moved;
  },
});
