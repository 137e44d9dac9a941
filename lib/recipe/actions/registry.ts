/**
 * Every recipe action, in one place. Adding an action is one file beside
 * this one and one line here; `deno task gen-schema` then regenerates
 * `docs/recipe.schema.json` (a test fails while it is stale).
 *
 * @module
 */

import type { ActionKind } from "./_action.ts";
import agent from "./agent.ts";
import backup from "./backup.ts";
import block from "./block.ts";
import console from "./console.ts";
import fail from "./fail.ts";
import hotplug from "./hotplug.ts";
import kill from "./kill.ts";
import migrate from "./migrate.ts";
import nmi from "./nmi.ts";
import panicAction from "./panic_action.ts";
import pause from "./pause.ts";
import powerdown from "./powerdown.ts";
import qmp from "./qmp.ts";
import reset from "./reset.ts";
import resume from "./resume.ts";
import sleep from "./sleep.ts";
import snapshot from "./snapshot.ts";
import start from "./start.ts";
import stop from "./stop.ts";
import waitEvent from "./wait_event.ts";
import waitAgent from "./wait_agent.ts";
import waitStatus from "./wait_status.ts";

/** Every action kind, in the order the docs list them. */
export const ACTIONS: readonly ActionKind[] = [
  qmp,
  pause,
  resume,
  reset,
  powerdown,
  nmi,
  start,
  stop,
  kill,
  migrate,
  snapshot,
  backup,
  hotplug,
  waitEvent,
  waitStatus,
  console,
  agent,
  waitAgent,
  panicAction,
  sleep,
  block,
  fail,
] as ActionKind[];

const BY_KEY = new Map(ACTIONS.map((action) => [action.key, action]));

/** The action kind for a step key, if there is one. */
export function actionKind(key: string): ActionKind | undefined {
  return BY_KEY.get(key);
}

/** The step keys that are actions. */
export const ACTION_KEYS: readonly string[] = ACTIONS.map((action) => action.key);
