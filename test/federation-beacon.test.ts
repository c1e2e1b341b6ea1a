/**
 * The federation beacon: its frame (pure), where it is broadcast, and its UDP driver over
 * real sockets. Every datagram stays on loopback (127.0.0.0/8).
 */
import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ProtocolError } from "../src/errors.js";
import {
  BEACON_MAGIC,
  BEACON_VERSION,
  decodeBeacon,
  DEFAULT_BEACON_PORT,
  encodeBeacon,
  isBeaconRejection,
  MAX_BEACON_SIZE,
  type Beacon,
  type BeaconRejectionKind,
} from "../src/federation/beacon-frame.js";
import { BeaconSocket, type BeaconSocketOptions } from "../src/federation/beacon-socket.js";
import { broadcastAddresses, broadcastOf, LOOPBACK_BROADCAST } from "../src/federation/broadcast-addresses.js";
import { prng } from "./seeded.js";

vi.mock("node:os", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:os")>();
  return { ...actual, networkInterfaces: vi.fn(actual.networkInterfaces) };
});

const CLUSTER = "lab";
const OWN = "0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210";
const KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const BEACON: Beacon = { cluster: CLUSTER, id: OTHER, port: 9090, incarnation: 7, digest: 0xdeadbeef };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
  vi.mocked(networkInterfaces).mockReset();
});

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A beacon socket closed after the test, recording what it delivers. */
async function beaconSocket(options: Partial<BeaconSocketOptions> = {}) {
  const heard: { beacon: Beacon; from: string }[] = [];
  const socket = await BeaconSocket.open({ port: 0, cluster: CLUSTER, ownId: OWN, onBeacon: (beacon, from) => heard.push({ beacon, from }), ...options });
  cleanups.push(() => socket.close());
  return { socket, heard };
}

/** A plain UDP socket on loopback, for raw datagrams. */
async function rawSocket(port = 0, host = "127.0.0.1"): Promise<Socket> {
  const socket = createSocket({ type: "udp4", reuseAddr: true });
  cleanups.push(async () => {
    const closed = once(socket, "close");
    socket.close();
    await closed;
  });
  socket.bind(port, host);
  await once(socket, "listening");
  socket.setBroadcast(true);
  return socket;
}

function sendRaw(socket: Socket, datagram: Buffer, port: number, address = "127.0.0.1"): Promise<Error | null> {
  return new Promise((resolve) => socket.send(datagram, port, address, resolve));
}

/** Datagrams the kernel dropped for the sockets bound to 0.0.0.0:`port` (full receive queue). */
function socketDrops(port: number): number {
  const local = `00000000:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/udp", "utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local)
    .reduce((sum, fields) => sum + Number(fields[12]), 0);
}

function randomBytes(random: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

const randomInt = (random: () => number, below: number) => Math.floor(random() * below);

function randomBeacon(random: () => number, overrides: Partial<Beacon> = {}): Beacon {
  let id = randomBytes(random, 16).toString("hex");
  if (id === OWN) id = OTHER;
  return { cluster: CLUSTER, id, port: randomInt(random, 65536), incarnation: randomInt(random, 2 ** 32), digest: randomInt(random, 2 ** 32), ...(random() < 0.5 ? { key: KEY } : {}), ...overrides };
}

type Kind = BeaconRejectionKind | "accepted" | "own" | "otherCluster";
const KINDS: readonly Kind[] = ["accepted", "own", "otherCluster", "oversized", "foreign", "version", "malformed"];

/** A seeded datagram the beacon socket must count as `kind`. */
function datagramOf(random: () => number, kind: Kind): Buffer {
  const valid = encodeBeacon(randomBeacon(random));
  switch (kind) {
    case "accepted":
      return valid;
    case "own":
      return encodeBeacon(randomBeacon(random, { id: OWN }));
    case "otherCluster":
      return encodeBeacon(randomBeacon(random, { cluster: `other-${randomInt(random, 100)}` }));
    case "oversized":
      return random() < 0.5 ? Buffer.concat([valid, Buffer.alloc(MAX_BEACON_SIZE + 1 - valid.length)]) : randomBytes(random, 256 + randomInt(random, 1000));
    case "foreign": {
      const bytes = randomBytes(random, randomInt(random, MAX_BEACON_SIZE + 1));
      if (bytes.length > 0 && bytes[0] === BEACON_MAGIC[0]) bytes[0] = 0;
      return bytes;
    }
    case "version":
      valid[4] = random() < 0.5 ? 0 : 2 + randomInt(random, 254);
      return valid;
    case "malformed":
      return random() < 0.5 ? valid.subarray(0, 5 + randomInt(random, valid.length - 5)) : Buffer.concat([valid, randomBytes(random, 1 + randomInt(random, 20))]);
  }
}

function ignoredTotal(socket: BeaconSocket): number {
  return Object.values(socket.stats.ignored).reduce((sum, n) => sum + n, 0);
}

function counted(socket: BeaconSocket, kind: Kind): number {
  return kind === "accepted" ? socket.stats.accepted : socket.stats.ignored[kind];
}

describe("beacon frame", () => {
  it("round-trips beacons, with and without key, unicode cluster and extreme values", () => {
    const cases: Beacon[] = [
      BEACON,
      { ...BEACON, key: KEY },
      { cluster: "Labor Zürich 実験室 🔬", id: OWN, port: 0, incarnation: 0, digest: 0 },
      { cluster: "\ufeffx", id: OWN, port: 65535, incarnation: 2 ** 32 - 1, digest: 2 ** 32 - 1, key: KEY },
    ];
    for (const beacon of cases) expect(decodeBeacon(encodeBeacon(beacon))).toStrictEqual(beacon);
    expect(DEFAULT_BEACON_PORT).toBe(9999);
  });

  it("lays out the bytes as documented", () => {
    const frame = encodeBeacon({ ...BEACON, key: KEY });
    expect(frame.subarray(0, 4).toString("ascii")).toBe("PYTS");
    expect([frame[4], frame[5]]).toEqual([BEACON_VERSION, 0]);
    expect(frame.readUInt16BE(6)).toBe(9090);
    expect(frame.readUInt32BE(8)).toBe(7);
    expect(frame.readUInt32BE(12)).toBe(0xdeadbeef);
    expect(frame.toString("hex", 16, 32)).toBe(OTHER);
    expect(frame[32]).toBe(3);
    expect(frame.toString("utf8", 33, 36)).toBe(CLUSTER);
    expect(frame[36]).toBe(40);
    expect(frame.toString("ascii", 37)).toBe(KEY);
    expect(frame.length).toBe(77);
    const largest = encodeBeacon({ ...BEACON, cluster: "é".repeat(32), key: KEY });
    expect(largest.length).toBe(138);
    expect(largest.length).toBeLessThanOrEqual(MAX_BEACON_SIZE);
  });

  it("refuses to encode invalid fields", () => {
    const invalid: Partial<Record<keyof Beacon, unknown>>[] = [
      { cluster: "" },
      { cluster: "x".repeat(65) },
      { cluster: "é".repeat(33) },
      { cluster: "a\nb" },
      { cluster: "a\u0085b" },
      { cluster: "\ud800" },
      { cluster: 5 },
      { id: OTHER.toUpperCase() },
      { id: OTHER.slice(1) },
      { id: `${OTHER}00` },
      { port: -1 },
      { port: 65536 },
      { port: 1.5 },
      { port: Number.NaN },
      { incarnation: 2 ** 32 },
      { incarnation: -1 },
      { digest: 2 ** 32 },
      { key: KEY.slice(1) },
      { key: `${KEY.slice(1)} ` },
      { key: "#".repeat(40) },
    ];
    for (const fields of invalid) expect(() => encodeBeacon({ ...BEACON, ...fields } as Beacon), JSON.stringify(fields)).toThrow(ProtocolError);
    expect(() => encodeBeacon({ ...BEACON, cluster: "x".repeat(64) })).not.toThrow();
  });

  it("rejects each kind of bad datagram for what it is", () => {
    const valid = encodeBeacon({ ...BEACON, key: KEY });
    const patched = (offset: number, ...bytes: number[]) => {
      const copy = Buffer.from(valid);
      copy.set(bytes, offset);
      return copy;
    };
    const expectations: [Buffer, BeaconRejectionKind][] = [
      [Buffer.concat([valid, Buffer.alloc(MAX_BEACON_SIZE + 1 - valid.length)]), "oversized"],
      [Buffer.alloc(4000), "oversized"],
      [Buffer.alloc(0), "foreign"],
      [Buffer.from("PYT"), "foreign"],
      [Buffer.from("GET_NSURI"), "foreign"],
      [patched(0, 0x70), "foreign"],
      [patched(4, 2), "version"],
      [patched(4, 0), "version"],
      [Buffer.from("PYTS\u0002"), "version"],
      [Buffer.from("PYTS"), "malformed"],
      [Buffer.concat([valid, Buffer.from([0])]), "malformed"],
      [patched(32, 200), "malformed"],
      [patched(36, 39), "malformed"],
      [patched(36, 0), "malformed"],
      [patched(37, 0x20), "malformed"],
      [patched(37, 0x23, 0x23, 0x23, 0x23, 0x23), "malformed"], // "#####" is worth more than 2^32
      [patched(33, 0xff), "malformed"],
      [patched(33, 0xc0, 0xaf), "malformed"], // overlong "/"
      [patched(33, 0xed, 0xa0, 0x80), "malformed"], // a UTF-16 surrogate
      [patched(33, 0x07), "malformed"],
      [Buffer.concat([valid.subarray(0, 32), Buffer.from([0, 0])]), "malformed"], // empty cluster
      [Buffer.concat([valid.subarray(0, 32), Buffer.from([65]), Buffer.alloc(65, 0x78), Buffer.from([0])]), "malformed"], // 65-byte cluster
    ];
    for (let length = 5; length < valid.length; length++) expectations.push([valid.subarray(0, length), "malformed"]);
    for (const [datagram, rejected] of expectations) expect(decodeBeacon(datagram), datagram.toString("hex")).toEqual({ rejected });
    expect(decodeBeacon(patched(5, 0xff))).toStrictEqual({ ...BEACON, key: KEY }); // flags are reserved
  });

  it("never throws on 10,000 seeded random and mutated datagrams, and accepts only canonical frames", () => {
    const random = prng(0xbeac0);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      let datagram: Buffer;
      if (random() < 0.3) {
        datagram = randomBytes(random, randomInt(random, 300));
      } else {
        datagram = encodeBeacon(randomBeacon(random));
        // Mutate a valid frame: random bytes, a cut or an extension reach the deeper checks.
        const mutations = randomInt(random, 4);
        for (let m = 0; m < mutations; m++) datagram[randomInt(random, datagram.length)] = randomInt(random, 256);
        if (random() < 0.2) datagram = datagram.subarray(0, randomInt(random, datagram.length));
        if (random() < 0.1) datagram = Buffer.concat([datagram, randomBytes(random, randomInt(random, 250))]);
      }
      const result = decodeBeacon(datagram);
      if (isBeaconRejection(result)) {
        seen.add(result.rejected);
      } else {
        seen.add("beacon");
        const canonical = Buffer.from(datagram);
        canonical[5] = 0;
        expect(encodeBeacon(result).equals(canonical), datagram.toString("hex")).toBe(true);
      }
    }
    expect([...seen].sort()).toEqual(["beacon", "foreign", "malformed", "oversized", "version"]);
  });
});

describe("broadcast addresses", () => {
  const ipv4 = (address: string, netmask: string, internal = false): NetworkInterfaceInfo => ({ address, netmask, family: "IPv4", mac: "00:00:00:00:00:00", internal, cidr: null });

  it("computes address | ~netmask", () => {
    expect(broadcastOf("192.168.1.17", "255.255.255.0")).toBe("192.168.1.255");
    expect(broadcastOf("10.1.2.3", "255.0.0.0")).toBe("10.255.255.255");
    expect(broadcastOf("172.16.5.4", "255.255.240.0")).toBe("172.16.15.255");
    expect(broadcastOf("127.0.0.1", "255.0.0.0")).toBe(LOOPBACK_BROADCAST);
    expect(broadcastOf("198.18.0.7", "255.254.0.0")).toBe("198.19.255.255");
    expect(broadcastOf("203.0.113.9", "255.255.255.255")).toBe("203.0.113.9");
    expect(broadcastOf("203.0.113.9", "0.0.0.0")).toBe("255.255.255.255");
    expect(() => broadcastOf("::1", "255.0.0.0")).toThrow(RangeError);
  });

  it("picks the loopback broadcast, the bind host's interface, or every interface for 0.0.0.0", () => {
    vi.mocked(networkInterfaces).mockImplementation(() => ({
      lo: [ipv4("127.0.0.1", "255.0.0.0", true), { address: "::1", netmask: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", family: "IPv6", mac: "00:00:00:00:00:00", internal: true, cidr: null, scopeid: 0 }],
      eth0: [ipv4("192.0.2.2", "255.255.255.0")],
      eth1: [ipv4("10.0.0.5", "255.255.0.0"), ipv4("10.0.9.9", "255.255.0.0")],
    }));
    expect(broadcastAddresses("127.0.0.1")).toEqual([LOOPBACK_BROADCAST]);
    expect(broadcastAddresses("127.3.2.1")).toEqual([LOOPBACK_BROADCAST]);
    expect(broadcastAddresses("10.0.0.5")).toEqual(["10.0.255.255"]);
    expect(broadcastAddresses("192.0.2.2")).toEqual(["192.0.2.255"]);
    expect(broadcastAddresses("198.51.100.1")).toEqual([]);
    expect(broadcastAddresses("0.0.0.0")).toEqual(["192.0.2.255", "10.0.255.255", LOOPBACK_BROADCAST]);
    expect(() => broadcastAddresses("::")).toThrow(RangeError);
    expect(() => broadcastAddresses("localhost")).toThrow(RangeError);
  });
});

describe("beacon socket", () => {
  it("delivers a beacon broadcast to 127.255.255.255 to every socket sharing the port", async () => {
    const a = await beaconSocket({ ownId: BEACON.id });
    const b = await beaconSocket({ port: a.socket.port });
    const c = await beaconSocket({ port: a.socket.port, ownId: "1".repeat(32) });
    a.socket.send(BEACON, [LOOPBACK_BROADCAST]);
    await until("both peers", () => b.heard.length === 1 && c.heard.length === 1 && a.socket.stats.ignored.own === 1);
    for (const peer of [b, c]) expect(peer.heard).toStrictEqual([{ beacon: BEACON, from: "127.0.0.1" }]);
    expect(a.heard).toEqual([]);
    expect(a.socket.stats.sendErrors).toBe(0);
  });

  it("hears broadcasts on a specific bind host, where a plain socket bound to it hears none", async () => {
    const host = await beaconSocket({ bindHost: "127.0.0.1", ownId: BEACON.id });
    const wildcard = await beaconSocket({ port: host.socket.port });
    // Linux: a socket bound to a unicast address gets no broadcast; hence the second socket.
    const plain = await rawSocket(host.socket.port, "127.0.0.1");
    let plainHeard = 0;
    plain.on("message", () => plainHeard++);

    host.socket.send(BEACON, broadcastAddresses("127.0.0.1"));
    await until("the wildcard socket", () => wildcard.heard.length === 1);
    expect(wildcard.heard[0]).toStrictEqual({ beacon: BEACON, from: "127.0.0.1" });
    const back = { ...BEACON, id: OWN, port: 9191 };
    wildcard.socket.send(back, [LOOPBACK_BROADCAST]);
    await until("the bound socket", () => host.heard.length === 1);
    expect(host.heard[0]).toStrictEqual({ beacon: back, from: "127.0.0.1" });
    await pause(100);
    expect(plainHeard).toBe(0);
    expect(host.socket.stats.ignored.own).toBe(1);
  });

  it("binds once when the bind host is itself a broadcast address", async () => {
    const { socket, heard } = await beaconSocket({ bindHost: LOOPBACK_BROADCAST });
    const sender = await rawSocket();
    await sendRaw(sender, encodeBeacon(BEACON), socket.port, LOOPBACK_BROADCAST);
    await until("the beacon", () => heard.length >= 1);
    await pause(50);
    expect(socket.stats.received).toBe(1);
  });

  it("ignores and counts its own beacons and other clusters' beacons", async () => {
    const { socket, heard } = await beaconSocket();
    const sender = await rawSocket();
    socket.send({ ...BEACON, id: OWN }, [LOOPBACK_BROADCAST]);
    await sendRaw(sender, encodeBeacon({ ...BEACON, cluster: "other" }), socket.port);
    await sendRaw(sender, encodeBeacon({ ...BEACON, cluster: "Lab" }), socket.port);
    await sendRaw(sender, encodeBeacon({ ...BEACON, id: OWN, incarnation: 99 }), socket.port);
    await sendRaw(sender, encodeBeacon(BEACON), socket.port);
    await until("five datagrams", () => socket.stats.received === 5);
    expect(socket.stats.ignored).toEqual({ oversized: 0, foreign: 0, version: 0, malformed: 0, otherCluster: 2, own: 2 });
    expect(socket.stats.accepted).toBe(1);
    expect(heard).toStrictEqual([{ beacon: BEACON, from: "127.0.0.1" }]);
  });

  it("survives a handler that throws or rejects", async () => {
    let calls = 0;
    const delivered: Beacon[] = [];
    const { socket } = await beaconSocket({
      onBeacon: (beacon) => {
        calls++;
        if (calls === 1) throw new Error("handler bug");
        if (calls === 2) return Promise.reject(new Error("async handler bug")) as unknown as void;
        delivered.push(beacon);
      },
    });
    const sender = await rawSocket();
    for (const incarnation of [1, 2, 3]) await sendRaw(sender, encodeBeacon({ ...BEACON, incarnation }), socket.port);
    await until("three beacons and two errors", () => delivered.length === 1 && socket.stats.handlerErrors === 2);
    expect(delivered[0]!.incarnation).toBe(3);
    expect(socket.stats.accepted).toBe(3);
  });

  it("counts send failures instead of throwing, refuses invalid beacons, and closes twice", async () => {
    const { socket } = await beaconSocket();
    socket.send(BEACON, ["::1", 42 as unknown as string]);
    await until("two send errors", () => socket.stats.sendErrors === 2);
    expect(() => socket.send({ ...BEACON, id: "nope" }, [LOOPBACK_BROADCAST])).toThrow(ProtocolError);
    await socket.close();
    await socket.close();
    expect(() => socket.send(BEACON, [LOOPBACK_BROADCAST])).not.toThrow();
  });

  it("refuses invalid options and ports it cannot bind", async () => {
    const base = { port: 0, cluster: CLUSTER, ownId: OWN, onBeacon: () => {} };
    for (const bad of [{ port: 70000 }, { port: -1 }, { bindHost: "::1" }, { bindHost: "localhost" }, { cluster: "" }, { ownId: "ABC" }]) {
      await expect(BeaconSocket.open({ ...base, ...bad }), JSON.stringify(bad)).rejects.toThrow(RangeError);
    }
    const exclusive = createSocket("udp4"); // no reuseAddr: the port is taken
    cleanups.push(() => new Promise<void>((resolve) => exclusive.close(() => resolve())));
    exclusive.bind(0, "127.0.0.1");
    await once(exclusive, "listening");
    await expect(BeaconSocket.open({ ...base, port: exclusive.address().port, bindHost: "127.0.0.1" })).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("counts 10,000 seeded garbage and valid datagrams exactly, then still delivers", async () => {
    const { socket, heard } = await beaconSocket();
    const sender = await rawSocket();
    const random = prng(0x5eed);
    const sent = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<Kind, number>;
    // Batches the receive buffer always holds: nothing lost, so every count is exact.
    for (let batch = 0; batch < 100; batch++) {
      const sends: Promise<Error | null>[] = [];
      for (let i = 0; i < 100; i++) {
        const kind = KINDS[randomInt(random, KINDS.length)]!;
        sent[kind]++;
        sends.push(sendRaw(sender, datagramOf(random, kind), socket.port));
      }
      expect((await Promise.all(sends)).filter(Boolean)).toEqual([]);
      await until(`batch ${batch}`, () => socket.stats.received === (batch + 1) * 100);
    }
    for (const kind of KINDS) expect(counted(socket, kind), kind).toBe(sent[kind]);
    expect(heard.length).toBe(sent.accepted);
    expect(socket.stats.handlerErrors).toBe(0);

    await sendRaw(sender, encodeBeacon(BEACON), socket.port);
    await until("a valid beacon after the garbage", () => heard.length === sent.accepted + 1);
    expect(heard.at(-1)).toStrictEqual({ beacon: BEACON, from: "127.0.0.1" });
  });

  it.runIf(existsSync("/proc/net/udp"))("drains a flood of 10,000 datagrams: each one read or dropped by the kernel, none lost in between", async () => {
    const { socket, heard } = await beaconSocket();
    const sender = await rawSocket();
    const random = prng(0xf100d);
    const sent = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<Kind, number>;
    const sends: Promise<Error | null>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const kind = KINDS[randomInt(random, KINDS.length)]!;
      sent[kind]++;
      sends.push(sendRaw(sender, datagramOf(random, kind), socket.port));
    }
    const delivered = (await Promise.all(sends)).filter((error) => !error).length;
    // On loopback a datagram sent is either queued for the socket or counted in its drops.
    await until("every datagram read or dropped", () => socket.stats.received + socketDrops(socket.port) === delivered);
    await pause(50);
    expect(socket.stats.received + socketDrops(socket.port)).toBe(delivered);
    expect(socket.stats.received).toBeGreaterThan(0);
    expect(socket.stats.received).toBe(socket.stats.accepted + ignoredTotal(socket));
    for (const kind of KINDS) expect(counted(socket, kind), kind).toBeLessThanOrEqual(sent[kind]);
    expect(heard.length).toBe(socket.stats.accepted);

    const before = heard.length;
    await sendRaw(sender, encodeBeacon(BEACON), socket.port);
    await until("a valid beacon after the flood", () => heard.length === before + 1);
    expect(heard.at(-1)).toStrictEqual({ beacon: BEACON, from: "127.0.0.1" });
  });
});
