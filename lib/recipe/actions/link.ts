import { defineAction } from "./action.ts";
import { notSwitched } from "./_faults.ts";

interface Link {
  kind: "link";
  state: "down" | "up";
}

/** The QEMU netdev ids of a VM's NICs on lab networks (`net0`, `net1`, … in their order). */
function nicIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `net${i}`);
}

/**
 * `link: down | up`: the carrier of the targets' NICs on lab networks
 * (QMP `set_link`), which the guest sees as a cable pulled or plugged. A
 * `link: down` is healed by itself (the link comes back up).
 */
export default defineAction<Link>({
  key: "link",
  summary: "pull (down) or plug (up) the cable of the targets' lab NICs; down heals by itself",
  schema: { enum: ["down", "up"] },
  parse(tools, { node }) {
    const state = tools.oneOf(node, "link", ["down", "up"] as const);
    return state === undefined ? undefined : { kind: "link", state };
  },
  mutates: () => true,
  requires: () => "launched",
  unfit: (_action, vm, recipe) => vm.networks.length > 0 ? undefined : notSwitched(vm, recipe),
  async run(action, { vm, lab, timeout, signal, hold }) {
    const nics = nicIds(lab.networks?.nicsOf(vm.name).length ?? 0);
    if (action.state === "down") hold(nics);
    for (const name of nics) {
      await vm.execute("set_link", { name, up: action.state === "up" }, { timeout, signal });
    }
    return { nics };
  },
  async undo(action, { vm, held, timeout, signal }) {
    if (action.state !== "down") return;
    for (const name of (held as string[] | undefined) ?? []) {
      await vm.execute("set_link", { name, up: true }, { timeout, signal });
    }
  },
});
