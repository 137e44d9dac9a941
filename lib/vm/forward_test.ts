import assert from "node:assert/strict";
import { portAnswers } from "./forward.ts";

Deno.test("portAnswers: a listener that holds the connection answers; one that closes it at once, or none, does not", async () => {
  const holding = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const serve = async (listener: Deno.Listener, keep: boolean) => {
    for await (const conn of listener) {
      if (keep) held.push(conn);
      else conn.close(); // as QEMU closes a forward the guest refused
    }
  };
  const served = [serve(holding, true), serve(closing, false)];
  try {
    assert.equal(await portAnswers((holding.addr as Deno.NetAddr).port, 200), true);
    assert.equal(await portAnswers((closing.addr as Deno.NetAddr).port, 200), false);
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const nobody = (free.addr as Deno.NetAddr).port;
    free.close();
    assert.equal(await portAnswers(nobody, 200), false);
  } finally {
    holding.close();
    closing.close();
    for (const conn of held) conn.close();
    await Promise.allSettled(served);
  }
});
