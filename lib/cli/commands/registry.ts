/**
 * Every `corral` command, one line each: a new command is a file in this
 * folder and a line here (a test fails when a file is not registered).
 *
 * @module
 */

import type { Command } from "../command.ts";
import check from "./check.ts";
import completions from "./completions.ts";
import consoleCommand from "./console.ts";
import diff from "./diff.ts";
import exec from "./exec.ts";
import fuzz from "./fuzz.ts";
import gc from "./gc.ts";
import plan from "./plan.ts";
import ps from "./ps.ts";
import rehearse from "./rehearse.ts";
import replay from "./replay.ts";
import report from "./report.ts";
import run from "./run.ts";
import shell from "./shell.ts";
import ssh from "./ssh.ts";
import test from "./test.ts";

/** The commands, in the order the overview lists them. */
export const COMMANDS: readonly Command[] = [
  run,
  test,
  fuzz,
  diff,
  rehearse,
  check,
  plan,
  shell,
  exec,
  consoleCommand,
  ssh,
  ps,
  gc,
  report,
  replay,
  completions,
];
