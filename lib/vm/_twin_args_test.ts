import assert from "node:assert/strict";
import { formatOpts, parseOpts, twinArgs } from "./_twin_args.ts";

const plan = {
  dir: "/run/twin",
  cwd: "/srv/vm",
  disks: new Map([["/srv/vm/data.qcow2", "/run/twin/disk-0.qcow2"]]),
  port: (netdev: string) => `/run/sw/lan-${netdev}.sock`,
};

Deno.test("twin args: QEMU's option syntax read and written back, commas doubled", () => {
  const opts = parseOpts("socket,id=c0,path=/tmp/a,,b.sock,server=on,wait");
  assert.deepEqual(opts, {
    implied: "socket",
    pairs: [["id", "c0"], ["path", "/tmp/a,b.sock"], ["server", "on"], ["wait", "on"]],
  });
  assert.equal(formatOpts(opts), "socket,id=c0,path=/tmp/a,,b.sock,server=on,wait=on");
});

Deno.test("twin args: same machine and devices; disks, NICs, sockets and monitors its own", () => {
  const { args, qmp, sockets } = twinArgs([
    "-machine",
    "pc",
    "-m",
    "64",
    "-nodefaults",
    "-name",
    "db1",
    "-qmp",
    "unix:/srv/vm/qmp.sock,server=on,wait=off",
    "-chardev",
    "socket,id=mon0,path=/srv/vm/mon.sock,server=on,wait=off",
    "-mon",
    "chardev=mon0,mode=control",
    "-daemonize",
    "-pidfile",
    "/srv/vm/pid",
    "-drive",
    "file=data.qcow2,if=virtio,id=d0,format=qcow2",
    "-drive",
    "file=/srv/iso/tools.iso,media=cdrom,if=ide",
    "-netdev",
    "tap,id=n0,ifname=tap0,script=no",
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
    "-chardev",
    "socket,id=qga0,path=/srv/vm/qga.sock,server=on,wait=off",
    "-device",
    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
    "-serial",
    "unix:/srv/vm/serial.sock,server=on,wait=off",
    "-chardev",
    "file,id=log0,path=/var/log/vm.log",
    "-vnc",
    ":1",
    "-D",
    "/var/log/qemu.log",
  ], plan);
  assert.deepEqual(args, [
    "-machine",
    "pc",
    "-m",
    "64",
    "-nodefaults",
    "-name",
    "db1",
    "-drive",
    "file=/run/twin/disk-0.qcow2,format=qcow2,if=virtio,id=d0",
    "-drive",
    "file=/srv/iso/tools.iso,media=cdrom,if=ide",
    "-netdev",
    "stream,id=n0,server=off,addr.type=unix,addr.path=/run/sw/lan-n0.sock",
    "-device",
    "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01",
    "-chardev",
    "socket,id=qga0,server=on,wait=off,path=/run/twin/chardev-qga0.sock",
    "-device",
    "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
    "-serial",
    "unix:/run/twin/serial0.sock,server=on,wait=off",
    "-chardev",
    "null,id=log0",
    "-qmp",
    "unix:/run/twin/qmp.sock,server=on,wait=off",
    "-display",
    "none",
    "-incoming",
    "defer",
  ]);
  assert.equal(qmp, "/run/twin/qmp.sock");
  assert.deepEqual([...sockets], [
    ["/srv/vm/qga.sock", "/run/twin/chardev-qga0.sock"],
    ["/srv/vm/serial.sock", "/run/twin/serial0.sock"],
  ]);
});

Deno.test("twin args: what would be the original's is refused, every case at once", () => {
  assert.throws(
    () =>
      twinArgs([
        "-drive",
        "file=/srv/other.qcow2,if=virtio",
        "-blockdev",
        "driver=file,node-name=f,filename=/x",
        "-object",
        "memory-backend-file,id=m,mem-path=/dev/shm/vm,share=on,size=64M",
        "-virtfs",
        "local,path=/srv,mount_tag=srv,security_model=none",
        "-nic",
        "user",
        "disk.img",
      ], plan),
    (error: Error) => {
      for (
        const part of [
          "-drive file=/srv/other.qcow2,if=virtio: a writable disk corral did not snapshot",
          "-blockdev: -blockdev graphs are not cloned yet",
          "-object memory-backend-file,id=m,mem-path=/dev/shm/vm,share=on,size=64M: memory shared",
          "-virtfs: a shared folder would be the original's",
          "-nic: give NICs with -netdev and -device",
          "disk.img: not an option",
        ]
      ) assert.ok(error.message.includes(part), `${part}\n${error.message}`);
      return true;
    },
  );
});
