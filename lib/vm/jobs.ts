/**
 * QEMU jobs (`snapshot-save`, `blockdev-create`, `blockdev-backup`, …): one
 * way to run any job-creating command, wait for it to conclude within a
 * deadline, treat the job's `error` as a failure naming the job (QEMU
 * answers `{}` even when the job will fail, e.g. a duplicate snapshot tag),
 * and dismiss it.
 *
 * @module
 */

import { JobError } from "../errors.ts";
import type { VmHandle as Vm } from "./handle.ts";

/** Options of {@linkcode runJob}. */
export interface RunJobOptions {
  /** The job's id; default: `corral-N`. */
  jobId?: string;
  /** Deadline for the whole job, in ms. Default 60,000. */
  timeout?: number;
  /** Abandons the wait (the job goes on in QEMU). */
  signal?: AbortSignal;
}

/** What `query-jobs` said of a concluded job. */
export interface JobInfo {
  /** The job's id. */
  id: string;
  /** What kind of job: `snapshot-save`, `create`, `backup`, … */
  type: string;
  /** `concluded` once it is over. */
  status: string;
  /** Progress made, in the job's own unit. */
  "current-progress": number;
  /** The progress it will make in all. */
  "total-progress": number;
  /** Why it failed, when it did. */
  error?: string;
}

let counter = 0;

/**
 * Run `command` with `args` (the job id is added as `job-id`) and resolve
 * once the job concluded without error; the job is dismissed either way.
 *
 * @throws {JobError} The job concluded with an error (its text, the job id).
 *
 * @example
 * ```ts ignore
 * await runJob(vm, "snapshot-save", { tag: "before", vmstate: "disk0", devices: ["disk0"] });
 * ```
 */
export async function runJob(
  vm: Vm,
  command: string,
  args: Record<string, unknown>,
  options: RunJobOptions = {},
): Promise<JobInfo> {
  const id = options.jobId ?? newJobId();
  const since = vm.mark();
  await vm.executeUntyped(command, { ...args, "job-id": id }, {
    timeout: options.timeout ?? 60_000,
    signal: options.signal,
  });
  return await awaitJob(vm, id, command, since, options);
}

/** A job id of corral's own: `corral-N`. */
export function newJobId(): string {
  return `corral-${++counter}`;
}

/**
 * Wait for job `id` (started after cursor `since` by `command`, e.g. in a
 * `transaction`) to conclude, read its error, and dismiss it. The job must
 * have been started with `auto-dismiss: false` where the command has it.
 *
 * @throws {JobError} The job concluded with an error.
 */
export async function awaitJob(
  vm: Vm,
  id: string,
  command: string,
  since: number,
  options: RunJobOptions = {},
): Promise<JobInfo> {
  const timeout = options.timeout ?? 60_000;
  await vm.client.journal.waitFor({
    names: "JOB_STATUS_CHANGE",
    match: (data) => data.id === id && data.status === "concluded",
  }, { since, timeout, ...(options.signal ? { signal: options.signal } : {}) });
  const jobs: JobInfo[] = await vm.execute("query-jobs");
  const job = jobs.find((j) => j.id === id);
  await vm.execute("job-dismiss", { id }).catch(() => {});
  if (!job) {
    throw new JobError(`job ${id} (${command}) concluded but query-jobs does not list it`, {
      vm: vm.name,
      job: id,
    });
  }
  if (job.error) {
    throw new JobError(`job ${id} (${command}) failed: ${job.error}`, { vm: vm.name, job: id });
  }
  return job;
}

/**
 * Run a job that copies until source and target agree (`ready`), then
 * complete it: QEMU switches the guest to the target. A job that fails
 * before it is ready concludes with its error.
 */
export async function toPivot(
  vm: Vm,
  command: "blockdev-mirror" | "block-commit",
  args: Record<string, unknown>,
  jobs: { timeout: number; signal?: AbortSignal | undefined },
): Promise<JobInfo> {
  const id = newJobId();
  const since = vm.mark();
  await vm.executeUntyped(command, { ...args, "job-id": id, "auto-dismiss": false }, jobs);
  const state = await vm.client.journal.waitFor({
    names: "JOB_STATUS_CHANGE",
    match: (data) => data.id === id && (data.status === "ready" || data.status === "concluded"),
  }, { since, timeout: jobs.timeout, ...(jobs.signal ? { signal: jobs.signal } : {}) });
  if (state.data?.status === "ready") await vm.execute("job-complete", { id }, jobs);
  return await awaitJob(vm, id, command, since, jobs);
}
