import assert from "node:assert/strict";
import { parse } from "yaml";
import { seedFiles } from "./cloud_init.ts";

Deno.test("cloud-init seed: meta-data names the instance and host after the VM unless given; network-config only when given", () => {
  const plain = seedFiles("web1", {});
  assert.deepEqual(Object.keys(plain).sort(), ["meta-data", "user-data"]);
  assert.deepEqual(parse(plain["meta-data"]!), {
    "instance-id": "corral-web1",
    "local-hostname": "web1",
  });
  assert.equal(plain["user-data"], "#cloud-config\n{}\n");
  const given = seedFiles("web1", {
    metaData: { "local-hostname": "www" },
    networkConfig: { version: 2, ethernets: { eth0: { dhcp4: true } } },
    userData: "#!/bin/sh\necho hi\n",
  });
  assert.equal(parse(given["meta-data"]!)["local-hostname"], "www");
  assert.equal(parse(given["meta-data"]!)["instance-id"], "corral-web1");
  assert.deepEqual(parse(given["network-config"]!).ethernets, { eth0: { dhcp4: true } });
  assert.equal(given["user-data"], "#!/bin/sh\necho hi\n");
});

Deno.test("cloud-init seed: users and ssh-keys join what the cloud-config has", () => {
  const text = seedFiles("a", {
    userData: { users: ["default"], ssh_authorized_keys: ["k1"] },
    users: [{ name: "alice" }],
    sshKeys: ["k2"],
  })["user-data"]!;
  assert.ok(text.startsWith("#cloud-config\n"));
  assert.deepEqual(parse(text), {
    users: ["default", { name: "alice" }],
    ssh_authorized_keys: ["k1", "k2"],
  });
});
