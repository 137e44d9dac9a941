import { defineAction } from "./_action.ts";
import type { ActionData } from "../model.ts";

interface Hotplug extends ActionData {
  kind: "hotplug";
  /** device_add's arguments (driver, id, …), templates as `{ $template }` leaves. */
  add?: Record<string, unknown>;
  /** The id of the device to remove. */
  remove?: string;
}

/**
 * `hotplug: { add: { driver, id, … } }` / `hotplug: { remove: ID }`: add a
 * device (done once QEMU lists it), or remove one (done at its
 * DEVICE_DELETED, which for PCI comes after the guest agreed).
 */
export default defineAction<Hotplug>({
  key: "hotplug",
  summary:
    "add a device (device_add; driver, id, …) or remove one (device_del, done at DEVICE_DELETED)",
  schema: {
    type: "object",
    additionalProperties: false,
    properties: {
      add: {
        type: "object",
        required: ["driver", "id"],
        properties: { driver: { type: "string" }, id: { type: "string" } },
      },
      remove: { type: "string" },
    },
    oneOf: [{ required: ["add"] }, { required: ["remove"] }],
  },
  parse(tools, { node }) {
    const options = tools.map(node, "hotplug");
    if (!options) return undefined;
    tools.keys(options, ["add", "remove"], "hotplug");
    if (options.has("add") === options.has("remove")) {
      return tools.issue(node, "hotplug takes exactly one of add or remove");
    }
    const removeNode = options.get("remove")?.value;
    if (removeNode !== undefined) {
      const remove = tools.string(removeNode, "remove");
      return remove === undefined ? undefined : { kind: "hotplug", remove };
    }
    const addNode = options.get("add")!.value;
    const add = tools.json(addNode, "add") as Record<string, unknown> | null;
    if (!add || typeof add !== "object" || Array.isArray(add)) {
      return tools.issue(addNode, "add must be device_add's arguments: { driver, id, … }");
    }
    for (const key of ["driver", "id"]) {
      if (add[key] === undefined) tools.issue(addNode, `add needs ${key}`);
    }
    return { kind: "hotplug", add };
  },
  mutates: () => true,
  async run(action, { vm, timeout, signal, renderValue }) {
    if (action.remove !== undefined) {
      await vm.deviceDel(action.remove, { timeout, signal });
      return { removed: action.remove };
    }
    const device = renderValue(action.add) as { driver: string; id: string };
    await vm.deviceAdd(device, { timeout, signal });
    return { added: device.id };
  },
});
