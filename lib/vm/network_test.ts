import assert from "node:assert/strict";
import { addresses } from "./network.ts";

Deno.test("network: addresses from .2 in inventory order, the prefix kept; across an octet", () => {
  assert.deepEqual(addresses("10.44.0.0/24", ["a", "b"]), [
    { vm: "a", address: "10.44.0.2/24" },
    { vm: "b", address: "10.44.0.3/24" },
  ]);
  const many = addresses("10.45.0.0/16", Array.from({ length: 300 }, (_, i) => `v${i}`));
  assert.equal(many[253]!.address, "10.45.0.255/16");
  assert.equal(many[254]!.address, "10.45.1.0/16");
});
