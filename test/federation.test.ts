import { createSocket } from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { locateNs, startNameServer, writeKeyFiles, type FederationOptions, type NameServerOptions, type PeerEvent, type PeerInfo, type RunningNameServer, type TcpLocation } from "../src/index.js";
import { encodeBeacon } from "../src/federation/beacon-frame.js";
import { MAX_HANDSHAKES_IN_FLIGHT } from "../src/federation/joins.js";
import { FEDERATION_OBJECT_ID, type PeerInbox } from "../src/federation/peer-inbox.js";
import { NodeChild } from "./node-child.js";
import { resources } from "./helpers.js";
import { prng } from "./seeded.js";

const use = resources();
const CLI_PATH = join(import.meta.dirname, "..", "dist", "cli", "pyro-ts.js");

// Loopback only: nameservers bind 127.0.0.1 and beacon to 127.255.255.255. Each test has its
// own beacon port and cluster name, so test files running at once never meet.
let nextCluster = 0;
function cluster(): string {
  return `t${process.pid}-${nextCluster++}`;
}
function beaconPort(): number {
  return 20_000 + Math.floor(Math.random() * 30_000);
}

const endpointOf = (ns: RunningNameServer): string => `127.0.0.1:${(ns.daemon.location as TcpLocation).port}`;

async function federated(federation: FederationOptions, options: NameServerOptions = {}): Promise<RunningNameServer> {
  const running = await startNameServer({ port: 0, broadcast: false, federation, ...options });
  use.onCleanup(() => running.close());
  return running;
}

/** Polls until `check` holds (every 50 ms), failing with `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const stateOf = (ns: RunningNameServer, id: string): string | undefined => ns.nameserver.peers().find((p) => p.id === id)?.state;
const table = (ns: RunningNameServer): string => JSON.stringify(ns.nameserver.peers().map((p) => [p.endpoint, p.state, p.incarnation]));
const allAlive = (ns: RunningNameServer, count: number): boolean => {
  const peers = ns.nameserver.peers();
  return peers.length === count && peers.every((p) => p.state === "alive");
};

describe("federation on loopback", () => {
  it("three nameservers find each other by beacon, agree on the leader, and show the table remotely", async () => {
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const servers = [await federated(options), await federated(options), await federated(options)];
    await until(() => servers.every((ns) => allAlive(ns, 3)), 3000, () => servers.map(table).join(" / "));
    const lowest = servers.map((ns) => ns.federation!.id).sort()[0];
    for (const ns of servers) {
      const peers = ns.nameserver.peers();
      expect(peers.filter((p) => p.self).map((p) => p.id)).toEqual([ns.federation!.id]);
      expect(peers.filter((p) => p.leader).map((p) => p.id)).toEqual([lowest]);
    }
    const proxy = await locateNs({ ns: endpointOf(servers[1]!) });
    use.onCleanup(() => proxy.$close());
    const remote: PeerInfo[] = await proxy.peers();
    expect(remote.map((p) => p.endpoint).sort()).toEqual(servers.map(endpointOf).sort());
    expect(remote[0]).toMatchObject({ self: true, state: "alive", host: "127.0.0.1", id: servers[1]!.federation!.id });
  });

  it("peerChanged reaches a remote slot: joined, then left at once on a graceful stop", async () => {
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const first = await federated(options);
    const proxy = await locateNs({ ns: endpointOf(first) });
    use.onCleanup(() => proxy.$close());
    const events: PeerEvent[] = [];
    await proxy.peerChanged.connect((peer) => void events.push(peer));
    const second = await startNameServer({ port: 0, broadcast: false, federation: options });
    try {
      await until(() => events.some((e) => e.change === "joined" && e.id === second.federation!.id), 3000, () => JSON.stringify(events));
    } finally {
      const stoppedAt = Date.now();
      await second.close();
      await until(() => events.some((e) => e.change === "left"), 2000, () => JSON.stringify(events));
      expect(Date.now() - stoppedAt).toBeLessThan(2000);
    }
    expect(events.map((e) => e.change)).toEqual(["joined", "left"]);
    expect(stateOf(first, second.federation!.id)).toBe("left");
  });

  it("a static peer joins a nameserver whose beacons it never hears, and tables are shared", async () => {
    const name = cluster();
    // Three beacon ports: a and b hear each other; c hears nobody and nobody hears c.
    const port = beaconPort();
    const a = await federated({ cluster: name, beaconPort: port });
    const b = await federated({ cluster: name, beaconPort: port });
    const c = await federated({ cluster: name, beaconPort: port + 1, broadcast: [], peers: [endpointOf(a)] });
    // c learns b from a's table, and b learns c from a's gossip: neither heard the other's beacon.
    await until(() => [a, b, c].every((ns) => allAlive(ns, 3)), 4000, () => [a, b, c].map(table).join(" / "));
  });

  it("a peer heard only one way becomes a member through the pong", async () => {
    const name = cluster();
    const port = beaconPort();
    // b sends no beacons; a's beacons reach b, b's reach nobody.
    const a = await federated({ cluster: name, beaconPort: port });
    const b = await federated({ cluster: name, beaconPort: port, broadcast: [] });
    await until(() => allAlive(a, 2) && allAlive(b, 2), 3000, () => `${table(a)} / ${table(b)}`);
  });

  it("nameservers of another cluster on the same beacon port never join, and are counted", async () => {
    const port = beaconPort();
    const a = await federated({ cluster: cluster(), beaconPort: port });
    const b = await federated({ cluster: cluster(), beaconPort: port });
    await until(() => a.federation!.stats.beacon.ignored.otherCluster > 0 && b.federation!.stats.beacon.ignored.otherCluster > 0, 3000, () => "no beacon of the other cluster seen");
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(a.nameserver.peers()).toHaveLength(1);
    expect(b.nameserver.peers()).toHaveLength(1);
  });

  it("garbage, forged and stale messages on the peer link change nothing and crash nothing", async () => {
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const a = await federated(options);
    const b = await federated(options);
    await until(() => allAlive(a, 2) && allAlive(b, 2), 3000, () => `${table(a)} / ${table(b)}`);
    const inbox = await use.connect<PeerInbox>(`PYRO:${FEDERATION_OBJECT_ID}@${endpointOf(a)}`);
    const random = prng(9);
    const junk = (depth: number): unknown => {
      const r = random();
      if (depth > 2 || r < 0.3) return [null, 1, -1, 2 ** 40, "x", "pong", true, "0".repeat(32)][Math.floor(random() * 8)];
      if (r < 0.6) return Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1));
      const keys = ["kind", "from", "seq", "updates", "members", "cluster", "reply", "target", "id", "endpoint", "state", "incarnation", "domain"];
      return Object.fromEntries(keys.filter(() => random() < 0.5).map((k) => [k, k === "kind" ? ["ping", "ack", "sync", "gossip", "pong", "ready", "ping-req", "?"][Math.floor(random() * 8)] : junk(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) await inbox.deliver(junk(0));
    const bId = b.federation!.id;
    const bRecord = a.nameserver.peers().find((p) => p.id === bId)!;
    const stranger = { id: "f".repeat(32), endpoint: "127.0.0.1:1" };
    // From a sender nobody knows: not trusted.
    await inbox.deliver({ kind: "sync", from: stranger, members: [{ ...bRecord, state: "dead" }] });
    await inbox.deliver({ kind: "gossip", from: stranger, updates: [{ ...stranger, domain: "x", incarnation: 0, state: "alive" }] });
    // Too many records, a bad endpoint, a negative incarnation: refused whole.
    await inbox.deliver({ kind: "gossip", from: { id: bId, endpoint: bRecord.endpoint }, updates: Array.from({ length: 300 }, () => ({ ...bRecord })) });
    await inbox.deliver({ kind: "gossip", from: { id: bId, endpoint: "nowhere" }, updates: [] });
    await inbox.deliver({ kind: "gossip", from: { id: bId, endpoint: bRecord.endpoint }, updates: [{ ...bRecord, incarnation: -1 }] });
    await inbox.$meta();
    await until(() => a.federation!.stats.refusedMessages >= 3, 2000, () => `refused ${a.federation!.stats.refusedMessages}`);
    expect(a.nameserver.peers()).toHaveLength(2);
    expect(stateOf(a, bId)).toBe("alive");
    // Forged from a member: "a is dead". a refutes with a higher incarnation, and b ends up agreeing.
    await inbox.deliver({ kind: "gossip", from: { id: bId, endpoint: bRecord.endpoint }, updates: [{ ...a.nameserver.peers()[0]!, state: "dead" }] });
    await until(() => b.nameserver.peers().some((p) => p.id === a.federation!.id && p.state === "alive" && p.incarnation >= 1), 3000, () => table(b));
    expect(a.nameserver.peers()[0]).toMatchObject({ state: "alive", incarnation: 1 });
    // Stale: a record of b older than what a holds changes nothing.
    await inbox.deliver({ kind: "gossip", from: { id: bId, endpoint: bRecord.endpoint }, updates: [{ ...bRecord, incarnation: 0, state: "alive" }] });
    expect(stateOf(a, bId)).toBe("alive");
  });
});

describe("federation under garbage on the beacon port", () => {
  it("10,000 random, truncated, other-cluster and forged beacons change nothing and crash nothing", async () => {
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const a = await federated(options);
    const b = await federated(options);
    await until(() => allAlive(a, 2) && allAlive(b, 2), 3000, () => `${table(a)} / ${table(b)}`);
    const sender = createSocket("udp4");
    use.onCleanup(async () => sender.close());
    await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
    sender.setBroadcast(true);
    const random = prng(17);
    const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const id = (): string => bytes(16).toString("hex");
    const real = encodeBeacon({ cluster: options.cluster, id: id(), port: 1, incarnation: 0, digest: 0 });
    const datagrams = (i: number): Buffer => {
      switch (i % 5) {
        case 0: return bytes(1 + Math.floor(random() * 300));
        case 1: return real.subarray(0, Math.floor(random() * real.length));
        case 2: return encodeBeacon({ cluster: `${options.cluster}x`, id: id(), port: 1 + Math.floor(random() * 65_000), incarnation: 0, digest: 0 });
        case 3: return Buffer.concat([real, bytes(1 + Math.floor(random() * 8))]);
        // Forged beacons of our cluster, naming ports where nothing answers: never members.
        default: return encodeBeacon({ cluster: options.cluster, id: id(), port: 1 + Math.floor(random() * 65_000), incarnation: Math.floor(random() * 2 ** 32), digest: 0 });
      }
    };
    for (let i = 0; i < 10_000; i++) {
      sender.send(datagrams(i), options.beaconPort, "127.255.255.255");
      // Paced, so most reach the sockets instead of overflowing the kernel's buffer.
      if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => a.federation!.stats.beacon.received > 2000, 5000, () => JSON.stringify(a.federation!.stats.beacon));
    const { ignored } = a.federation!.stats.beacon;
    expect(ignored.otherCluster).toBeGreaterThan(0);
    expect(ignored.malformed + ignored.foreign + ignored.oversized).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const ns of [a, b]) {
      expect(ns.nameserver.peers().map((p) => [p.endpoint, p.state])).toEqual(expect.arrayContaining([[endpointOf(a), "alive"], [endpointOf(b), "alive"]]));
      expect(ns.nameserver.peers()).toHaveLength(2);
    }
    // Forged beacons each ask for a handshake, which opens a connection: only a few are made at once.
    expect(a.federation!.stats.links).toBeLessThanOrEqual(4 * MAX_HANDSHAKES_IN_FLIGHT);
    // Still a working federation: a newcomer joins.
    const c = await federated(options);
    await until(() => [a, b, c].every((ns) => allAlive(ns, 3)), 3000, () => [a, b, c].map(table).join(" / "));
  });
});

describe("federation with CURVE", () => {
  it("encrypted nameservers federate when they admit each other's keys; one whose key is not admitted is refused and reported", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-fed-"));
    use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const authorized = join(dir, "authorized");
    mkdirSync(authorized);
    const [ka, kb] = [writeKeyFiles(join(authorized, "a")), writeKeyFiles(join(authorized, "b"))];
    const kc = writeKeyFiles(join(dir, "c"));
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.message);
    process.on("warning", onWarning);
    use.onCleanup(async () => void process.off("warning", onWarning));
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const curve = (secretKeyFile: string) => ({ curve: { secretKeyFile, authorizedClients: authorized } });
    const a = await federated(options, curve(ka.secretFile));
    const b = await federated(options, curve(kb.secretFile));
    await until(() => allAlive(a, 2) && allAlive(b, 2), 3000, () => `${table(a)} / ${table(b)}`);
    expect(a.nameserver.peers()[1]!.key).toBe(b.nameserver.peers()[0]!.key);
    const c = await federated(options, curve(kc.secretFile));
    await until(() => warnings.some((w) => /refused this nameserver's key/.test(w)), 4000, () => JSON.stringify(warnings));
    expect(a.nameserver.peers().map((p) => p.id)).not.toContain(c.federation!.id);
    expect(b.nameserver.peers().map((p) => p.id)).not.toContain(c.federation!.id);
    expect(c.nameserver.peers().filter((p) => p.state === "alive")).toHaveLength(1);
  });
});

describe("federation across processes (CLI)", () => {
  function nameserverProcess(name: string, args: string[]): NodeChild {
    const child = new NodeChild(name, CLI_PATH, ["nameserver", "-p", "0", "-x", ...args]);
    use.onCleanup(() => child.kill("SIGKILL"));
    return child;
  }

  async function started(child: NodeChild): Promise<{ endpoint: string; id: string }> {
    const uri = await child.waitForLine((l) => l.startsWith("nameserver running at"), 10_000, "the nameserver's URI");
    const id = await child.waitForLine((l) => l.startsWith("federating in cluster"), 10_000, "the federation line");
    return { endpoint: uri.slice(uri.indexOf("@") + 1), id: / as ([0-9a-f]{32})/.exec(id)![1]! };
  }

  it("ns peers and ns watch show the table and its changes; SIGKILL is dead within 10 s, SIGTERM left within 2 s", async () => {
    const flags = ["--federate", cluster(), "--beacon-port", String(beaconPort())];
    const [one, two, three] = [nameserverProcess("ns1", flags), nameserverProcess("ns2", flags), nameserverProcess("ns3", flags)];
    const [n1, n2, n3] = [await started(one), await started(two), await started(three)];
    const watch = new NodeChild("watch", CLI_PATH, ["ns", "watch", "--json", "--ns", n1.endpoint]);
    use.onCleanup(() => watch.kill("SIGKILL"));
    await watch.waitForLine((l) => l.startsWith("watching"), 10_000, "watching");
    const peersOf = async (endpoint: string): Promise<PeerInfo[]> => {
      const run = new NodeChild("peers", CLI_PATH, ["ns", "peers", "--json", "--ns", endpoint]);
      await run.expectExit(10_000);
      return JSON.parse(run.lines.join("\n")) as PeerInfo[];
    };
    let seen: PeerInfo[] = [];
    await until(async () => (seen = await peersOf(n1.endpoint)).filter((p) => p.state === "alive").length === 3, 5000, () => JSON.stringify(seen));
    expect(seen.map((p) => p.id).sort()).toEqual([n1.id, n2.id, n3.id].sort());
    const killedAt = Date.now();
    three.signal("SIGKILL");
    await watch.waitForLine((l) => l.includes('"peerChanged"') && l.includes(n3.id) && l.includes('"change":"dead"'), 10_000, "ns3 dead");
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const stoppedAt = Date.now();
    two.signal("SIGTERM");
    await watch.waitForLine((l) => l.includes('"peerChanged"') && l.includes(n2.id) && l.includes('"change":"left"'), 2000, "ns2 left");
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect((await two.expectExit(5000)).code).toBe(0);
    const human = new NodeChild("peers", CLI_PATH, ["ns", "peers", "--ns", n1.endpoint]);
    await human.expectExit(10_000);
    expect(human.lines[0]).toMatch(/id\s+endpoint\s+host\s+state\s+incarnation\s+last heard\s+leader/);
    expect(human.lines.find((l) => l.includes(n2.id))).toMatch(/\sleft\s/);
    expect(human.lines.find((l) => l.includes(n3.id))).toMatch(/\sdead\s/);
    expect(human.lines.find((l) => l.startsWith("*"))).toContain(n1.id);
  });

  it("refuses --peer without --federate, and a bad cluster name, with a usage error", async () => {
    const noCluster = nameserverProcess("bad", ["--peer", "127.0.0.1:9090"]);
    expect((await noCluster.expectExit(10_000)).code).toBe(2);
    expect(noCluster.stderr).toMatch(/--federate/);
  });
});
