import { StepFailure } from "../../errors.ts";
import { defineAction } from "./action.ts";
import { opt, required, withDefault } from "./options.ts";
import { matchesPattern } from "../model.ts";

/**
 * `fetch: { url, status, expect }`: an HTTP GET from this machine — through
 * a forward, say (`http://${{ vms.web.forward.80 }}/`) — whose status and
 * body are checked. Once per target VM.
 */
export default defineAction({
  key: "fetch",
  summary: "HTTP GET from this machine (through a forward: ${{ vms.NAME.forward.PORT }}); " +
    "status (200) and expect checked",
  options: {
    url: required(opt.template("http://…")),
    status: withDefault(opt.integer(100, 599, "an HTTP status, 100–599"), 200),
    expect: opt.pattern("what the body must contain"),
  },
  mutates: () => false,
  async run(action, { vm, timeout, signal, render }) {
    const url = render(action.url);
    if (!/^https?:\/\//.test(url)) {
      throw new StepFailure(`fetch takes an http:// or https:// URL, not ${JSON.stringify(url)}`, {
        vm: vm.name,
      });
    }
    const response = await fetch(url, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)]),
    });
    const body = await response.text();
    const matches = matchesPattern(action.expect, body);
    if (response.status !== action.status || !matches) {
      throw new StepFailure(
        `GET ${url}: ${response.status}` +
          (response.status !== action.status ? ` (expected ${action.status})` : "") +
          (matches ? "" : `; the body does not match ${String(action.expect)}`) +
          `; body: ${JSON.stringify(body.slice(0, 200))}`,
        { vm: vm.name },
      );
    }
    return { url, status: response.status, bytes: body.length, body: body.slice(0, 1000) };
  },
});
