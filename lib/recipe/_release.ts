/**
 * The end of a run: the VMs' console logs copied into the report (their
 * directories go with them), the VMs stopped (or, with keep, left
 * running), the lab networks removed, the event watches ended, the report
 * finished.
 *
 * @module
 */

import type { Lab } from "../vm/lab.ts";
import type { LabNetworks } from "../vm/network.ts";
import type { DetachedVm } from "../vm/vm.ts";
import type { RunJournal } from "./journal.ts";
import type { ReportDir } from "./report_dir.ts";
import type { EventRecorder } from "./_watch.ts";

/** What a run leaves to release. */
export interface Release {
  report: ReportDir | undefined;
  /** `on-failure`: only when the verdict is not pass. */
  keep: boolean | "on-failure";
  events: EventRecorder;
  journal(): RunJournal;
}

/** Stop what corral launched (or, with keep, leave it running); resolves to what was kept. */
export async function release(
  lab: Lab | undefined,
  networks: LabNetworks | undefined,
  { report, keep, events, journal }: Release,
): Promise<DetachedVm[]> {
  if (report && lab) {
    for (const name of lab.names) {
      await lab.vm(name).collectLogs();
      const logs = lab.vm(name).consoleLogs;
      if (logs.length > 0) await report.console(name, logs);
    }
  }
  let kept: DetachedVm[] = [];
  if (lab && (keep === true || (keep === "on-failure" && journal().verdict !== "pass"))) {
    kept = await lab.detach();
    await networks?.stopSwitches(); // they live in this process; kept VMs on a bridge keep theirs
  } else {
    await lab?.shutdown({ grace: 0 });
    // Kept VMs keep their network; corral gc removes it once they are gone.
    await networks?.destroy();
  }
  await events.stop();
  await report?.finish(journal());
  return kept;
}
