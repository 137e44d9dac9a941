import { diffRecipe } from "../../recipe/diff/diff.ts";
import { userPath, wholeNumber } from "../_args.ts";
import { interruptible } from "../_interrupts.ts";
import { loadRecipeFor, RECIPE_FLAGS } from "../_recipe_args.ts";
import { defineCommand, flag, text, texts } from "../command.ts";

const USAGE = `usage: corral diff RECIPE --qemu A --qemu B [options]

Run a recipe on two QEMU builds (at once when memory allows; the same
seed) and compare the runs, per VM and step: the verdict, each step's
outcome and reply shape (members and types, not values), each VM's QMP
events in order (names and data shapes, not times) and the metrics.
Prints what differs and where.

options:
  --qemu PATH        a QEMU binary (given twice: A, then B)
  --tolerance P      how far a metric may differ, of the larger value
                     (default 20%; differences under 5 ms never count)
  --serial           one run after the other, even when memory allows both
  --repeat N         run each build N times: a step, reply or event difference
                     counts when every pairing shows it, a metric when its
                     values on A and on B lie apart beyond the tolerance
  --seed N           the seed both runs draw picks from (default: random, printed)
  --report DIR       keep each run's report in DIR/A and DIR/B
  --json             print the differences as JSON on stdout
  --var, --secret-var, --var-file, --max-vms   as corral run
  -h, --help         this help

exit codes: 0 no difference, 1 a difference, 2 invalid input, 130 interrupted`;

/** `corral diff RECIPE --qemu A --qemu B`: one recipe, two QEMU builds, what differs. */
export default defineCommand({
  name: "diff",
  synopsis: "RECIPE --qemu A --qemu B [options]",
  usage: USAGE,
  flags: {
    ...RECIPE_FLAGS,
    qemu: { type: "string", multiple: true, default: [] },
    tolerance: { type: "string" },
    serial: { type: "boolean", default: false },
    repeat: { type: "string" },
    seed: { type: "string" },
    report: { type: "string" },
    json: { type: "boolean", default: false },
  },
  async run(context) {
    const { values } = context;
    const builds = texts(values, "qemu");
    let relative = 0.2;
    let repeat: number | undefined;
    const loaded = await loadRecipeFor("diff", USAGE, context, (problems) => {
      repeat = wholeNumber(text(values, "repeat"), "--repeat", 1, 100, problems);
      if (builds.length !== 2) problems.push(`--qemu: give two builds, got ${builds.length}`);
      const given = text(values, "tolerance");
      const match = given === undefined ? null : /^(\d+(?:\.\d+)?)%$/.exec(given);
      if (given !== undefined && !match) {
        problems.push(`--tolerance ${given}: a percentage like 20%`);
      }
      if (match) relative = Number(match[1]) / 100;
    });
    if (typeof loaded === "number") return loaded;
    const json = flag(values, "json");
    const print = (line: string) => (json ? console.error(line) : console.log(line));
    return await interruptible(
      "diff",
      print,
      "stopping both runs (their finally runs)",
      async (signal) => {
        const { differences } = await diffRecipe(loaded.recipe, {
          builds: [builds[0]!, builds[1]!],
          seed: loaded.seed,
          tolerance: { relative, absolute: 5 },
          serial: flag(values, "serial"),
          repeat,
          reportDir: userPath(text(values, "report")),
          signal,
          log: print,
        });
        if (json) console.log(JSON.stringify(differences, null, 2));
        print(differences.length ? `${differences.length} difference(s):` : "no difference");
        for (const d of differences) print(`  ${d.where}: ${d.what}`);
        return differences.length ? 1 : 0;
      },
    );
  },
});
