import assert from "node:assert/strict";
import {
  ConnectError,
  ConnectionClosedError,
  MonitorBusyError,
  QmpClient,
  QmpError,
  TimeoutError,
  Vm,
} from "../mod.ts";
import { readUntil, rejectsWith, within } from "./_assert.ts";
import { spawnQemu } from "./_qemu.ts";

Deno.test("connect: reads the greeting and negotiates oob", async () => {
  await using qemu = await spawnQemu({ name: "greet" });
  await using vm = await Vm.connect(qemu.address, { name: "greet" });
  assert.ok(Number.isInteger(vm.greeting.version.qemu.major));
  assert.equal(vm.qemuVersion.release, `${vm.qemuVersion.major}.${vm.qemuVersion.minor}`);
  assert.match(vm.greeting.version.package, /\S/);
  assert.deepEqual(vm.greeting.capabilities, ["oob"]);
  assert.equal(vm.client.oob, true);
  assert.equal(vm.client.state, "running");
  assert.deepEqual(await vm.execute("query-name"), { name: "greet" });
});

Deno.test("execute: 100 commands in flight are each routed to their own caller by id", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  const options = ["drive", "machine", "chardev", "object", "netdev", "device", "smp-opts"];
  const asked = Array.from(
    { length: 100 },
    (_, i) => options[(i * 7 + (i >> 3)) % options.length]!,
  );
  const replies = await Promise.all(
    asked.map((option) => vm.execute("query-command-line-options", { option })),
  );
  replies.forEach((reply, i) => {
    assert.ok(Array.isArray(reply));
    assert.equal((reply[0] as { option: string }).option, asked[i]);
  });
});

Deno.test("execute: falsy returns resolve ('' from HMP, {} from stop)", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  assert.equal(await vm.hmp("stop"), "");
  assert.deepEqual(await vm.execute("cont"), {});
  assert.match(await vm.hmp("info status"), /VM status: running/);
  // An unknown HMP command answers with text, not a QMP error.
  assert.match(await vm.hmp("no-such-hmp-command"), /unknown command/);
});

Deno.test("execute: QEMU's error class, description, command and arguments are kept", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address, { name: "err" });
  const missing = await rejectsWith(vm.executeUntyped("no-such-command"), QmpError);
  assert.equal(missing.qmpClass, "CommandNotFound");
  assert.equal(missing.command, "no-such-command");
  assert.equal(missing.vm, "err");
  assert.match(missing.message, /^vm 'err': no-such-command failed: CommandNotFound: /);
  const wrongType = await rejectsWith(
    vm.executeUntyped("query-command-line-options", { option: 5 }),
    QmpError,
  );
  assert.equal(wrongType.qmpClass, "GenericError");
  assert.deepEqual(wrongType.arguments, { option: 5 });
  assert.match(wrongType.desc, /option/);
  // The connection is still usable afterwards.
  assert.equal((await vm.status()).running, true);
});

Deno.test("execute: a 207 KB query-qmp-schema reply is read whole", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  const schema = await vm.execute("query-qmp-schema") as { name: string; "meta-type": string }[];
  assert.ok(JSON.stringify(schema).length > 150_000);
  assert.ok(
    schema.some((entry) => entry.name === "query-status" && entry["meta-type"] === "command"),
  );
  assert.ok(
    schema.some((entry) => entry.name === "GUEST_PANICKED" && entry["meta-type"] === "event"),
  );
});

Deno.test("execute: exec-oob query-yank overtakes an in-band command sent before it", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  const order: string[] = [];
  const slow = vm.execute("query-qmp-schema").then(() => order.push("in-band"));
  const probe = vm.execute("query-yank", undefined, { oob: true }).then((reply) => {
    order.push("oob");
    return reply;
  });
  assert.deepEqual(await probe, [{ type: "chardev", id: "compat_monitor0" }]);
  await slow;
  assert.deepEqual(order, ["oob", "in-band"]);
});

Deno.test("deadline: a SIGSTOPped QEMU times out while another VM keeps answering", async () => {
  await using frozen = await spawnQemu();
  await using healthy = await spawnQemu();
  await using a = await Vm.connect(frozen.address, { name: "frozen" });
  await using b = await Vm.connect(healthy.address, { name: "healthy" });
  frozen.signal("SIGSTOP");
  try {
    const late = a.execute("query-status", undefined, { timeout: 200 });
    assert.equal((await b.status()).status, "running");
    const error = await rejectsWith(late, TimeoutError, /may still be running in QEMU/);
    assert.equal(error.vm, "frozen");
    assert.equal(error.command, "query-status");
    assert.equal(error.timeout, 200);
  } finally {
    frozen.signal("SIGCONT");
  }
  // The late reply to the timed-out command is dropped; the next one is routed right.
  assert.equal((await a.status()).running, true);
});

Deno.test("abort: a signal abandons the wait for a reply", async () => {
  await using qemu = await spawnQemu();
  await using vm = await Vm.connect(qemu.address);
  qemu.signal("SIGSTOP");
  try {
    const controller = new AbortController();
    const reply = vm.execute("query-status", undefined, { signal: controller.signal });
    controller.abort(new Error("user cancelled"));
    await assert.rejects(reply, /user cancelled/);
  } finally {
    qemu.signal("SIGCONT");
  }
  assert.equal((await vm.status()).running, true);
});

Deno.test("death: SIGKILL rejects every pending command and waiter at once, naming the VM", async () => {
  await using qemu = await spawnQemu();
  const vm = await Vm.connect(qemu.address, { name: "doomed" });
  qemu.signal("SIGSTOP");
  const commands = Array.from({ length: 10 }, () => vm.execute("query-status"));
  const waiters = [vm.waitFor("STOP"), vm.waitFor("SHUTDOWN")];
  const iterator = vm.events();
  const next = iterator.next();
  qemu.signal("SIGKILL");
  const settled = await within(
    Promise.allSettled([...commands, ...waiters, next]),
    5_000,
    "pending calls after SIGKILL",
  );
  for (const result of settled) {
    assert.equal(result.status, "rejected");
    assert.ok(result.reason instanceof ConnectionClosedError, String(result.reason));
    assert.equal(result.reason.vm, "doomed");
    assert.match(result.reason.message, /^vm 'doomed': /);
  }
  assert.equal(vm.connected, false);
  await rejectsWith(vm.execute("query-status"), ConnectionClosedError, /cannot send query-status/);
  await vm.close();
});

Deno.test("busy monitor: a second client gets MonitorBusyError at the greeting deadline", async () => {
  await using qemu = await spawnQemu();
  await using first = await Vm.connect(qemu.address, { name: "first" });
  const error = await rejectsWith(
    Vm.connect(qemu.address, { name: "second", timeout: 300 }),
    MonitorBusyError,
    /another client is probably attached/,
  );
  assert.equal(error.vm, "second");
  assert.equal((await first.status()).running, true);
});

Deno.test("stale socket: a socket file left by a dead QEMU fails fast and says so", async () => {
  await using qemu = await spawnQemu();
  qemu.signal("SIGKILL");
  await qemu.status;
  const error = await rejectsWith(
    Vm.connect(qemu.address, { name: "gone" }),
    ConnectError,
    /exists but nothing listens on it: the QEMU that made it has exited/,
  );
  assert.equal(error.address, qemu.address);
  await rejectsWith(Vm.connect(`unix:${qemu.dir}/nothing.sock`), ConnectError, /no socket at/);
});

Deno.test("tcp: the same client works over tcp:127.0.0.1:PORT", async () => {
  await using qemu = await spawnQemu({ tcp: true });
  await using client = await QmpClient.connect(qemu.address, { name: "tcp" });
  assert.match(qemu.address, /^tcp:127\.0\.0\.1:\d+$/);
  const status = await client.execute("query-status") as Record<string, unknown>;
  assert.equal(status.status, "running");
  assert.equal(status.running, true);
});

Deno.test("connect: a dial that completes after its deadline is closed, not leaked", async () => {
  // A loopback listener whose accept queue is full: the kernel drops new SYNs, so a dial
  // hangs until the peer drains the queue and the client retransmits (about a second later).
  const peer = new Deno.Command("python3", {
    args: ["-c", FULL_QUEUE_PEER],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await readUntil(lines, "\n", 10_000, "the peer's port")).trim());
  await rejectsWith(
    QmpClient.connect(`tcp:127.0.0.1:${port}`, { name: "late", timeout: 200 }),
    TimeoutError,
    /vm 'late': could not connect within 200 ms/,
  );
  // Drain the queue: the hung dial now completes, after its deadline.
  const writer = peer.stdin.getWriter();
  await writer.write(new TextEncoder().encode("drain\n"));
  await writer.close();
  const report = await readUntil(lines, "late:", 30_000, "the late connection");
  assert.match(report, /late: closed/, "the late connection was left open");
  await lines.cancel();
  await peer.status;
});

/** Listens with a queue of one, fills it, waits for "drain", then reports whether each connection is closed by the client. */
const FULL_QUEUE_PEER = `
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fillers = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fillers.append(c)
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
s.settimeout(20)
filler_ports = {c.getsockname()[1] for c in fillers}
while True:
    conn, addr = s.accept()
    if addr[1] in filler_ports: continue
    conn.settimeout(20)
    try: data = conn.recv(1)
    except OSError: data = b"?"
    print("late: closed" if data == b"" else "late: open", flush=True)
    break
`;
