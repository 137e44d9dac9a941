/**
 * What was added to a running QEMU — hot-plugged devices, objects (a
 * DIMM's memory backend) — so that a migration's destination, or a start
 * again, gets it on its command line: devices must match.
 *
 * @module
 */

/** A device or object, by its `id`. */
type Part = { id: string } & Record<string, unknown>;

/** The devices and objects added to one QEMU at run time. */
export class Hotplugged {
  #devices = new Map<string, Part>();
  #objects = new Map<string, Part>();

  /** The same additions, for another QEMU of the VM. */
  copy(): Hotplugged {
    const copy = new Hotplugged();
    copy.#devices = new Map(this.#devices);
    copy.#objects = new Map(this.#objects);
    return copy;
  }

  /** A device was added (`device_add`). */
  device(device: Part): void {
    this.#devices.set(device.id, device);
  }

  /** A device was removed (`DEVICE_DELETED`). */
  removed(id: string): void {
    this.#devices.delete(id);
  }

  /** An object was added (`object-add`). */
  object(object: Part): void {
    this.#objects.set(object.id, object);
  }

  /** The command-line arguments that add them all: objects first, as devices use them. */
  args(): string[] {
    return [
      ...[...this.#objects.values()].flatMap((object) => ["-object", JSON.stringify(object)]),
      ...[...this.#devices.values()].flatMap((device) => ["-device", JSON.stringify(device)]),
    ];
  }
}
