/**
 * Recipes (`@corral/corral/recipe`): parse with positions, plan, run,
 * report, and the JSON Schema for editors.
 *
 * @example
 * ```ts ignore
 * import { loadRecipe, runRecipe } from "@corral/corral/recipe";
 * const { journal } = await runRecipe(await loadRecipe("recipes/crash-drill.yaml"));
 * console.log(journal.verdict);
 * ```
 *
 * @module
 */

export * from "./model.ts";
export * from "./duration.ts";
export * from "./parse.ts";
export * from "./plan.ts";
export {
  EXIT_CODES,
  type MetricRecord,
  type ProbeAttempt,
  type ProbeRecord,
  type RunJournal,
  type StepRecord,
  type TargetRecord,
  type Verdict,
  type Violation,
} from "./journal.ts";
export {
  junit,
  readEvents,
  readJournal,
  renderReport,
  ReportDirError,
  ReportFileError,
  summary,
} from "./report.ts";
export { judge, type VerdictInput } from "./verdict.ts";
export { CorralError, ExplorationError, StepFailure } from "../errors.ts";
export { type FuzzOptions, fuzzRecipe, type FuzzResult, type FuzzRun } from "./fuzz/fuzz.ts";
export type { Schedule, ScheduledFault, TargetCount } from "./fuzz/schedule.ts";
export { type DiffOptions, diffRecipe, type DiffResult, type DiffRun } from "./diff/diff.ts";
export { type RehearseOptions, rehearseRecipe, type RehearseResult } from "./rehearse.ts";
export { compareRuns, type Difference, type RunRecord, type Tolerance } from "./diff/compare.ts";
export * from "./run.ts";
export type { RunEvent, RunListener } from "./run_events.ts";
export { linesOf, terminalLines } from "./live/terminal.ts";
export { progressEvents } from "./live/progress.ts";
export { type ReportEvent, reportHtml } from "./html.ts";
export { recipeSchema } from "./schema.ts";
export type { JsonSchema } from "./actions/parse_tools.ts";
export type { NetworkSpec } from "../vm/network.ts";
export { isSecretName } from "./secrets.ts";
export {
  defineReporter,
  type Reporter,
  type ReporterEvent,
  type ReporterKind,
} from "./reporters/reporter.ts";
export { REPORTERS } from "./reporters/registry.ts";
