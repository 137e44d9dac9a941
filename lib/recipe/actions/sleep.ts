import { delay } from "../../_async.ts";
import { defineAction } from "./action.ts";
import { DURATION_SCHEMA } from "./parse_tools.ts";
import type { ActionData } from "../model.ts";

interface Sleep extends ActionData {
  kind: "sleep";
  ms: number;
}

/** `sleep: 2s`: an explicit delay, the only sleep there is. */
export default defineAction<Sleep>({
  key: "sleep",
  summary: "wait this long (the only sleep there is)",
  schema: DURATION_SCHEMA,
  parse(tools, { node }) {
    const ms = tools.duration(node, "sleep");
    return ms === undefined ? undefined : { kind: "sleep", ms };
  },
  mutates: () => false,
  run: (action, { signal }) => delay(action.ms, { signal }),
});
