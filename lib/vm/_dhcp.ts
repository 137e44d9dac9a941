/**
 * The DHCP server of corral's switch: a guest that asks (DHCPDISCOVER,
 * DHCPREQUEST) gets the address the lab gave its VM — a stable lease by
 * port, so any image with a DHCP client joins the lab at its address. No
 * router, no DNS: a lab network reaches nothing else.
 *
 * @module
 */

const BOOTP = 14 + 20 + 8; // where BOOTP starts in a frame with a 20-byte IPv4 header
const COOKIE = [99, 130, 83, 99];
const DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5;
/** The switch's own MAC (locally administered), as the server's. */
const SERVER_MAC = [0x02, 0xc0, 0x44, 0x00, 0x00, 0x01];

/** A network's leases: each VM's address, and the server's. */
export interface DhcpConfig {
  /** The server's address (the network's `.1`, the lab's own end). */
  server: string;
  /** The prefix length of the network. */
  prefix: number;
  /** Each VM's address. */
  leases: ReadonlyMap<string, string>;
}

/**
 * The reply to a DHCP request `frame` from `vm`'s port, or `undefined` when
 * the frame is not one (or asks for nothing this server gives).
 */
export function dhcpReply(
  config: DhcpConfig,
  vm: string,
  frame: Uint8Array,
): Uint8Array | undefined {
  const lease = config.leases.get(vm);
  if (!lease || !isDhcpRequest(frame)) return undefined;
  const ihl = (frame[14]! & 0x0f) * 4;
  const bootp = 14 + ihl + 8;
  const type = option(frame, bootp, 53)?.[0];
  const reply = type === DISCOVER ? OFFER : type === REQUEST ? ACK : undefined;
  if (reply === undefined) return undefined;
  return build(config, lease, reply, frame.subarray(bootp));
}

/** Ethernet, IPv4 (no fragment), UDP 68 → 67, BOOTREQUEST with the cookie. */
function isDhcpRequest(frame: Uint8Array): boolean {
  if (frame.length < BOOTP + 240 || frame[12] !== 0x08 || frame[13] !== 0x00) return false;
  const ihl = (frame[14]! & 0x0f) * 4;
  const udp = 14 + ihl;
  if (frame[23] !== 17 || frame.length < udp + 8 + 240) return false;
  const port = (at: number) => (frame[at]! << 8) | frame[at + 1]!;
  const bootp = udp + 8;
  return port(udp) === 68 && port(udp + 2) === 67 && frame[bootp] === 1 &&
    COOKIE.every((b, i) => frame[bootp + 236 + i] === b);
}

/** The value of DHCP option `code` in the BOOTP message at `bootp`. */
function option(frame: Uint8Array, bootp: number, code: number): Uint8Array | undefined {
  let at = bootp + 240;
  while (at < frame.length) {
    const c = frame[at]!;
    if (c === 255) return undefined;
    if (c === 0) {
      at++;
      continue;
    }
    const length = frame[at + 1] ?? 0;
    if (c === code) return frame.subarray(at + 2, at + 2 + length);
    at += 2 + length;
  }
  return undefined;
}

/** The reply frame: broadcast (the client has no address yet), from the server. */
function build(config: DhcpConfig, lease: string, type: number, request: Uint8Array): Uint8Array {
  const server = ipv4(config.server);
  const mask = ipv4(maskOf(config.prefix));
  const options = [
    53,
    1,
    type,
    54,
    4,
    ...server,
    51,
    4,
    0x00,
    0x01,
    0x51,
    0x80, // a day; the address never changes anyway
    1,
    4,
    ...mask,
    255,
  ];
  const bootp = new Uint8Array(240 + options.length);
  bootp.set([2, 1, 6, 0]); // BOOTREPLY, Ethernet, 6-byte addresses, no hops
  bootp.set(request.subarray(4, 8), 4); // xid
  bootp.set(request.subarray(10, 12), 10); // flags
  bootp.set(ipv4(lease.split("/")[0]!), 16); // yiaddr
  bootp.set(server, 20); // siaddr
  bootp.set(request.subarray(28, 44), 28); // chaddr
  bootp.set(COOKIE, 236);
  bootp.set(options, 240);
  const udpLength = 8 + bootp.length;
  const frame = new Uint8Array(14 + 20 + udpLength);
  frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...SERVER_MAC, 0x08, 0x00]);
  const ip = [
    0x45,
    0,
    (20 + udpLength) >> 8,
    (20 + udpLength) & 0xff,
    0,
    0,
    0,
    0,
    64,
    17,
    0,
    0,
    ...server,
    255,
    255,
    255,
    255,
  ];
  const sum = checksum(ip);
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  frame.set(ip, 14);
  frame.set([0, 67, 0, 68, udpLength >> 8, udpLength & 0xff, 0, 0], 34); // no UDP checksum (IPv4 allows it)
  frame.set(bootp, 42);
  return frame;
}

function ipv4(text: string): number[] {
  return text.split(".").map(Number);
}

function maskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join(".");
}

/** The IPv4 header checksum: the ones' complement of the ones' complement sum of its words. */
function checksum(header: number[]): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
