import { junit } from "../report.ts";
import { writeNew } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/** `junit.xml`: a test case per step × VM, for CI systems. */
export default defineReporter({
  name: "junit.xml",
  open: (dir) =>
    Promise.resolve({
      on() {},
      finish: (journal) => writeNew(`${dir}/junit.xml`, junit(journal)),
    }),
});
