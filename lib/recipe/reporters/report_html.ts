import { renderReport } from "../report.ts";
import { writeNew } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/**
 * `report.html`: the run on one time axis, drawn from the journal and
 * `events.jsonl` (registered after it, so that file is complete).
 */
export default defineReporter({
  name: "report.html",
  open: (dir) =>
    Promise.resolve({
      on() {},
      finish: async (journal) => writeNew(`${dir}/report.html`, await renderReport(dir, journal)),
    }),
});
