import { writeNew } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/** `journal.json`: the whole run (steps, targets, metrics, verdict), secrets masked. */
export default defineReporter({
  name: "journal.json",
  open: (dir) =>
    Promise.resolve({
      on() {},
      finish: (journal) => writeNew(`${dir}/journal.json`, JSON.stringify(journal, null, 2) + "\n"),
    }),
});
