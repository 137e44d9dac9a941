import { CorralError } from "../../errors.ts";
import type { RunJournal } from "../../recipe/journal.ts";
import { readJournal, renderReport, summary } from "../../recipe/report.ts";
import { columns, userPath } from "../_args.ts";
import { defineCommand } from "../command.ts";

const USAGE = `usage: corral report DIR

Draw a run's report again from its journal.json and events.jsonl (a --report
directory, an old one included): writes DIR/report.html and prints the
summary.

options:
  -h, --help         this help`;

/** `corral report DIR`: draw report.html again from the journal and the events. */
export default defineCommand({
  name: "report",
  synopsis: "DIR",
  usage: USAGE,
  flags: {},
  async run({ positionals }) {
    if (positionals.length !== 1) {
      console.error(`corral report: name one report directory\n\n${USAGE}`);
      return 2;
    }
    const dir = userPath(positionals[0])!;
    let journal: RunJournal;
    try {
      journal = await readJournal(dir);
      await writeReport(dir, await renderReport(dir, journal));
    } catch (error) {
      if (!(error instanceof CorralError) && !(error instanceof Deno.errors.PermissionDenied)) {
        throw error;
      }
      console.error(`corral report: ${(error as Error).message}`);
      return 2;
    }
    const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
    console.log(summary(journal, color, { width: columns(Deno.stdout) }));
    console.log(`report: ${dir}/report.html`);
    return 0;
  },
});

/** Written beside, then renamed over: never through a link planted at report.html. */
async function writeReport(dir: string, html: string): Promise<void> {
  const temporary = await Deno.makeTempFile({ dir, prefix: ".report-", suffix: ".html" });
  try {
    await Deno.writeTextFile(temporary, html);
    await Deno.rename(temporary, `${dir}/report.html`);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
