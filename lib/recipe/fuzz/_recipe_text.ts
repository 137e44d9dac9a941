/**
 * A fuzz run's recipe: the recipe's own text with a schedule's steps added
 * after its steps (its `finally` untouched), so what ran — and
 * `minimal.yaml` — is a plain recipe `corral run` takes; and what failed in
 * a run, by name, so a smaller schedule counts only when it fails the same
 * way.
 *
 * @module
 */

import { isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { countsAsFailed, type RunJournal } from "../journal.ts";
import { type Schedule, scheduleSteps } from "./schedule.ts";

/** Where a schedule's steps go, and how long the lab stays quiet after them. */
export interface Placement {
  /** The VM the waits between faults run on. */
  clock: string;
  /** ms of quiet after the last fault ends. */
  settle: number;
}

/** The recipe `text` with `schedule`'s steps after its own, and `comment` above the first. */
export function withSchedule(
  text: string,
  schedule: Schedule,
  placement: Placement,
  comment?: string,
): string {
  const doc = parseDocument(text);
  let steps = doc.get("steps", true);
  if (!isSeq(steps)) {
    steps = doc.createNode([]);
    doc.set("steps", steps);
  }
  const added = scheduleSteps(schedule, placement.clock, placement.settle).map((step) => {
    const node = doc.createNode(step) as YAMLMap;
    node.flow = true;
    return node;
  });
  if (comment && added[0]) added[0].commentBefore = comment;
  (steps as YAMLSeq).flow = false;
  (steps as YAMLSeq).items.push(...added);
  return doc.toString({ lineWidth: 0 });
}

/**
 * What failed in a run, by name: corral or QEMU broke (`error`), a step of
 * the recipe's own (not the schedule's), a metric out of its bounds, an
 * invariant or the console watch. Empty when the run passed or could not
 * tell.
 */
export function failuresOf(journal: RunJournal): string[] {
  if (journal.verdict !== "fail" && journal.verdict !== "error") return [];
  const out = new Set<string>();
  if (journal.verdict === "error") out.add("corral or QEMU broke");
  for (const step of journal.steps) {
    if (step.name.startsWith("fuzz: ")) continue;
    if (step.targets.some(countsAsFailed)) out.add(`step '${step.name}' failed`);
  }
  for (const metric of journal.metrics) {
    if (metric.pass === false) out.add(`metric '${metric.name}' out of bounds`);
  }
  for (const violation of journal.violations ?? []) out.add(`${violation.rule} broken`);
  return [...out];
}
