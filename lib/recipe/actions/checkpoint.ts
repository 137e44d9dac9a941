import { defineAction } from "./action.ts";
import type { ActionData } from "../model.ts";

/** What a checkpoint's name may be: it names a folder. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A `checkpoint: NAME` step. */
export interface Checkpoint extends ActionData {
  kind: "checkpoint";
  name: string;
}

/**
 * `checkpoint: NAME`: every VM of the lab paused at one moment, saved
 * (machine state and disks) into `--checkpoints DIR/NAME`, and resumed;
 * `corral run --resume-from NAME` starts a later run there. Without
 * `--checkpoints` the step saves nothing and says so. Only among a recipe's
 * top-level steps, where no fault corral injected is active.
 */
export default defineAction<Checkpoint>({
  key: "checkpoint",
  summary: "save every VM at one moment into --checkpoints DIR/NAME, to resume a later run " +
    "there (--resume-from NAME)",
  schema: { type: "string", pattern: NAME.source },
  parse(tools, { node }) {
    const name = tools.string(node, "checkpoint");
    if (name === undefined) return undefined;
    if (!NAME.test(name)) {
      return tools.issue(
        node,
        `checkpoint: ${JSON.stringify(name)} is not a name: letters, digits, '.', '_' and '-' ` +
          "(it names a folder), starting with a letter or digit",
      );
    }
    return { kind: "checkpoint", name };
  },
  mutates: () => false,
  requires: () => "launched",
  unfit: (_action, vm) =>
    vm.spec?.host === undefined
      ? undefined
      : `a checkpoint saves VMs launched on this machine; ${vm.name} runs on host '${vm.spec.host}'`,
  async runTogether(action, { vms, lab, timeout }) {
    if (!lab.checkpoints) {
      return { saved: false, note: "not saved: run with --checkpoints DIR to keep checkpoints" };
    }
    return await lab.checkpoints.save(action.name, vms, timeout);
  },
});

/** Whether a step's action is a `checkpoint`. */
export function isCheckpoint(action: ActionData): action is Checkpoint {
  return action.kind === "checkpoint";
}
