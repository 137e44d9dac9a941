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
