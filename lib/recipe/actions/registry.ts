/**
 * Every recipe action, in one place. Adding an action is one file beside
 * this one and one line here; `deno task gen-schema` then regenerates
 * `docs/recipe.schema.json` (a test fails while it is stale).
 *
 * @module
 */

import { CorralError } from "../../errors.ts";
import type { ActionData } from "../model.ts";
import type { ActionKind } from "./action.ts";
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
import partition from "./partition.ts";
import netem from "./netem.ts";
import link from "./link.ts";
import stall from "./stall.ts";
import clock from "./clock.ts";
import heal from "./heal.ts";
import diskThrottle from "./disk_throttle.ts";
import diskFault from "./disk_fault.ts";
import cpuLimit from "./cpu_limit.ts";
import memoryPressure from "./memory_pressure.ts";
import waitUntil from "./wait_until.ts";
import waitFile from "./wait_file.ts";
import waitUnit from "./wait_unit.ts";
import upload from "./upload.ts";
import download from "./download.ts";
import forward from "./forward.ts";
import waitPort from "./wait_port.ts";
import screenshot from "./screenshot.ts";
import keyPress from "./keys.ts";
import typeText from "./type.ts";
import fetchAction from "./fetch.ts";
import checkpoint from "./checkpoint.ts";
import resizeDisk from "./resize_disk.ts";
import cpus from "./cpus.ts";
import memory from "./memory.ts";
import balloon from "./balloon.ts";
import blockMove from "./block_move.ts";
import commit from "./commit.ts";
import restore from "./restore.ts";
import cdrom from "./cdrom.ts";

const kinds: ActionKind[] = [
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
  restore,
  hotplug,
  blockMove,
  commit,
  resizeDisk,
  cpus,
  memory,
  balloon,
  cdrom,
  waitEvent,
  waitStatus,
  console,
  agent,
  waitAgent,
  panicAction,
  partition,
  netem,
  link,
  stall,
  clock,
  diskThrottle,
  diskFault,
  cpuLimit,
  memoryPressure,
  waitUntil,
  waitFile,
  waitUnit,
  upload,
  download,
  forward,
  waitPort,
  screenshot,
  keyPress,
  typeText,
  fetchAction,
  checkpoint,
  heal,
  sleep,
  block,
  fail,
] as ActionKind[];
const keys = kinds.map((action) => action.key);
const BY_KEY = new Map(kinds.map((action) => [action.key, action]));

/** Every action kind, in the order the docs list them (and any registered since). */
export const ACTIONS: readonly ActionKind[] = kinds;

/** The action kind for a step key, if there is one. */
export function actionKind(key: string): ActionKind | undefined {
  return BY_KEY.get(key);
}

/** The step keys that are actions. */
export const ACTION_KEYS: readonly string[] = keys;

/**
 * Add an action kind defined outside this folder (a plug-in, a test's
 * throwaway one) until the returned handle is disposed; a built-in action
 * is one file here and one line in the list above instead.
 *
 * @throws {CorralError} An action with that key exists.
 *
 * @example
 * ```ts
 * import { defineAction } from "./action.ts";
 * import { actionKind, registerAction } from "./registry.ts";
 * import assert from "node:assert/strict";
 *
 * const noop = defineAction({ key: "noop", summary: "nothing", options: {}, mutates: () => false, run: () => Promise.resolve() });
 * {
 *   using _registered = registerAction(noop);
 *   assert.equal(actionKind("noop"), noop);
 * }
 * assert.equal(actionKind("noop"), undefined);
 * ```
 */
export function registerAction<A extends ActionData>(kind: ActionKind<A>): Disposable {
  if (BY_KEY.has(kind.key)) {
    throw new CorralError(`an action '${kind.key}' is registered already`);
  }
  const added = kind as unknown as ActionKind;
  kinds.push(added);
  keys.push(kind.key);
  BY_KEY.set(kind.key, added);
  return {
    [Symbol.dispose]() {
      if (BY_KEY.get(kind.key) !== added) return;
      kinds.splice(kinds.indexOf(added), 1);
      keys.splice(keys.indexOf(kind.key), 1);
      BY_KEY.delete(kind.key);
    },
  };
}
