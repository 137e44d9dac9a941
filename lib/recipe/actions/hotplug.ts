import { defineAction } from "./action.ts";
import { opt } from "./options.ts";
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
export default defineAction({
  key: "hotplug",
  summary:
    "add a device (device_add; driver, id, …) or remove one (device_del, done at DEVICE_DELETED)",
  options: {
    add: opt.custom<Record<string, unknown>>({
      type: "object",
      required: ["driver", "id"],
      properties: { driver: { type: "string" }, id: { type: "string" } },
    }, (tools, node, key) => {
      const add = tools.json(node, key) as Record<string, unknown> | null;
      if (!add || typeof add !== "object" || Array.isArray(add)) {
        return tools.issue(node, "add must be device_add's arguments: { driver, id, … }");
      }
      for (const member of ["driver", "id"]) {
        if (add[member] === undefined) tools.issue(node, `add needs ${member}`);
      }
      return add;
    }),
    remove: opt.string("the id of the device to remove"),
  },
  shape: { exactlyOne: ["add", "remove"] },
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
