import { delay } from "../_async.ts";
import { MigrationError } from "../errors.ts";
import type { EventJournal } from "../qmp/journal.ts";

/** The statuses a migration ends in. */
const ENDED = ["completed", "failed", "cancelled"];

/**
 * Wait for the MIGRATION event after cursor `since` that ends a migration
 * (`completed`, `failed` or `cancelled`); resolves to that status. Needs
 * the `events` capability on that QEMU, or no such event ever comes.
 */
export async function migrationEnd(
  journal: EventJournal,
  since: number,
  timeout: number,
  signal?: AbortSignal,
): Promise<string> {
  const ended = await journal.waitFor({
    names: "MIGRATION",
    match: (data) => ENDED.includes(data.status as string),
  }, { since, timeout, ...(signal ? { signal } : {}) });
  return String(ended.data?.status);
}

/**
 * Wait until QEMU's migration thread has let go of a VM whose state it
 * saved: it reports `completed` while the VM is still in `finish-migrate`,
 * where `cont` is refused ("Migration is not finalized yet").
 *
 * @throws {MigrationError} It did not within `timeout` ms.
 */
export async function untilSettled(
  // Not a VmHandle: the VM's modules import this one.
  vm: { name: string; status(): Promise<{ status: string }> },
  timeout: number,
): Promise<void> {
  const began = performance.now();
  for (let pause = 1; (await vm.status()).status === "finish-migrate"; pause *= 2) {
    if (performance.now() - began > timeout) {
      throw new MigrationError("the state was saved, but QEMU did not let the VM go", {
        vm: vm.name,
      });
    }
    await delay(Math.min(pause, 20));
  }
}
