import { append, Chain } from "./_files.ts";
import { defineReporter } from "./reporter.ts";

/** `events.jsonl`: one JSON record a line, as the run goes (what `corral report` redraws from). */
export default defineReporter({
  name: "events.jsonl",
  async open(dir) {
    const file = await Deno.open(`${dir}/events.jsonl`, { write: true, createNew: true });
    const writes = new Chain();
    return {
      on(event) {
        if (event.type !== "record") return;
        const line = JSON.stringify(event.record) + "\n";
        writes.add(() => append(file, line));
      },
      async finish() {
        await writes.done();
        file.close();
      },
    };
  },
});
