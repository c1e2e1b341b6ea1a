/**
 * One namespace across federated nameservers (issue 10): real nameservers on loopback,
 * names registered on one and looked up, watched and called through another, conflicts,
 * and what peers may not do to a replica. The pure replica is tested alone in
 * federation-replica.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { locateNs, lookup, NAMESERVER_NAME, NamingError, resolve, serve, startNameServer, type NameConflict, type NameEntry, type NameServer, type Remote, type RunningNameServer, type TcpLocation } from "../src/index.js";
import { FEDERATION_OBJECT_ID, type PeerInbox } from "../src/federation/peer-inbox.js";
import { MAX_ORIGINS, MAX_RECORDS } from "../src/federation/replica-message.js";
import { Laser } from "./fixtures/laser.js";
import { NodeChild } from "./node-child.js";
import { resources } from "./helpers.js";
import { prng } from "./seeded.js";

const use = resources();
const CLI_PATH = join(import.meta.dirname, "..", "dist", "cli", "pyro-ts.js");

// Loopback only, as in federation.test.ts: each test has its own cluster name and beacon port.
let nextCluster = 0;
const cluster = (): string => `n${process.pid}-${nextCluster++}`;
const beaconPort = (): number => 20_000 + Math.floor(Math.random() * 30_000);
const endpointOf = (ns: RunningNameServer): string => `127.0.0.1:${(ns.daemon.location as TcpLocation).port}`;
const uriOn = (port: number, object = "obj"): string => `PYRO:${object}@127.0.0.1:${port}`;

/** Polls until `check` holds (every 25 ms), failing with `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `count` nameservers of one new cluster, every one seeing every other alive; closed after the test. */
async function startCluster(count: number): Promise<RunningNameServer[]> {
  const options = { cluster: cluster(), beaconPort: beaconPort() };
  const servers: RunningNameServer[] = [];
  for (let i = 0; i < count; i++) {
    const running = await startNameServer({ port: 0, broadcast: false, federation: options });
    use.onCleanup(() => running.close());
    servers.push(running);
  }
  const joined = (ns: RunningNameServer): boolean => ns.nameserver.peers().filter((p) => p.state === "alive").length === count;
  await until(() => servers.every(joined), 4000, () => servers.map((ns) => JSON.stringify(ns.nameserver.peers().map((p) => p.state))).join(" / "));
  return servers;
}

async function nsProxy(ns: RunningNameServer): Promise<Remote<NameServer>> {
  const proxy = await locateNs({ ns: endpointOf(ns) });
  use.onCleanup(() => proxy.$close());
  return proxy;
}

const has = (ns: RunningNameServer, name: string): boolean => {
  try {
    ns.nameserver.lookup(name);
    return true;
  } catch (error) {
    if (error instanceof NamingError) return false;
    throw error;
  }
};
const names = (ns: RunningNameServer): string => JSON.stringify(ns.nameserver.list());

describe("one namespace across nameservers", () => {
  it("with sqlite storage a restarted nameserver is the same member, a higher incarnation, and never reuses a version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-identity-"));
    use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const federation = { cluster: cluster(), beaconPort: beaconPort() };
    const storage = `sqlite:${join(dir, "a.db")}`;
    const start = async (options: { storage?: string }): Promise<RunningNameServer> => {
      const running = await startNameServer({ port: 0, broadcast: false, federation, ...options });
      use.onCleanup(() => running.close());
      return running;
    };
    const first = await start({ storage });
    const b = await start({});
    await until(() => b.nameserver.peers().filter((p) => p.state === "alive").length === 2, 4000, () => JSON.stringify(b.nameserver.peers()));
    first.nameserver.register("lab.a", uriOn(1));
    await until(() => has(b, "lab.a"), 3000, () => names(b));
    const id = first.federation!.id;
    const version = first.federation!.names.lookup("lab.a")!.version;
    await first.close();
    await until(() => !has(b, "lab.a"), 3000, () => names(b));
    const again = await start({ storage });
    expect(again.federation!.id).toBe(id);
    expect(again.nameserver.peers()[0]!.incarnation).toBe(1);
    // Its stored names come back everywhere without being registered again, under new versions.
    await until(() => has(b, "lab.a"), 4000, () => names(b));
    expect(b.nameserver.peers().find((p) => p.id === id)).toMatchObject({ state: "alive", incarnation: 1 });
    expect(again.federation!.names.lookup("lab.a")!.version).toBeGreaterThan(version);
  });

  it("unique registration takes the name, else name-2, name-3... free in the whole cluster", async () => {
    const [a, b] = await startCluster(2);
    expect(a!.nameserver.register("lab.camera", uriOn(1), { unique: true })).toBe("lab.camera");
    await until(() => has(b!, "lab.camera"), 3000, () => names(b!));
    // Taken on A: B gives the next free form, and so on; A sees each of B's.
    expect(b!.nameserver.register("lab.camera", uriOn(2), { unique: true })).toBe("lab.camera-2");
    await until(() => has(a!, "lab.camera-2"), 3000, () => names(a!));
    expect(a!.nameserver.register("lab.camera", uriOn(3), { unique: true })).toBe("lab.camera-3");
    expect(a!.nameserver.lookup("lab.camera")).toBe(uriOn(1));
    await until(() => has(b!, "lab.camera-3"), 3000, () => names(b!));
    expect(b!.nameserver.list({ prefix: "lab.camera" })).toEqual({ "lab.camera": uriOn(1), "lab.camera-2": uriOn(2), "lab.camera-3": uriOn(3) });
    expect(b!.nameserver.conflicts()).toEqual([]);
    // Through the CLI too: it prints the name it got.
    const cli = new NodeChild("register", CLI_PATH, ["ns", "register", "--unique", "lab.camera", uriOn(4), "--ns", endpointOf(b!)]);
    await cli.expectExit(10_000);
    expect(cli.lines).toEqual(["registered lab.camera-4"]);
  });

  it("a daemon served through A is looked up and called through B; B's remote slots see its birth and death", async () => {
    const [a, b] = await startCluster(2);
    const remoteB = await nsProxy(b!);
    const births: [string, string, string[]][] = [];
    const deaths: [string, string][] = [];
    await remoteB.registered.connect((name, uri, metadata) => void births.push([name, uri, metadata]));
    await remoteB.removed.connect((name, uri) => void deaths.push([name, uri]));
    const daemon = await serve({ "lab.laser": new Laser() }, { host: "127.0.0.1", port: 0, ns: endpointOf(a!), metadata: { "lab.laser": ["optics"] } });
    use.onCleanup(() => daemon.close());
    const laserUri = uriOn((daemon.location as TcpLocation).port, "lab.laser");
    await until(() => births.some(([name]) => name === "lab.laser"), 3000, () => JSON.stringify(births));
    expect(births).toEqual([["lab.laser", laserUri, ["optics"]]]);

    // Found on B's own nameserver (its replica), and called.
    const laser = await lookup<Laser>("lab.laser", { ns: endpointOf(b!) });
    use.onCleanup(() => laser.$close());
    expect(await laser.setPower(7)).toBe(7);
    expect(await resolve(`PYROMETA:optics@${endpointOf(b!)}`)).toBe(laserUri);
    const listed = (await remoteB.list({ returnMetadata: true })) as Record<string, NameEntry>;
    expect(listed).toEqual({
      "lab.laser": { uri: laserUri, metadata: ["optics"], origin: a!.federation!.id },
      [NAMESERVER_NAME]: { uri: b!.uri, metadata: [], origin: b!.federation!.id },
    });
    expect(await remoteB.lookup(NAMESERVER_NAME)).toBe(b!.uri);
    expect(await remoteB.count()).toBe(2);

    // B may not change what A registered; its own registrations are its own.
    await expect(remoteB.remove("lab.laser")).rejects.toThrow(/registered on nameserver/);
    await expect(remoteB.setMetadata("lab.laser", ["x"])).rejects.toThrow(/registered on nameserver/);
    await expect(remoteB.register("lab.laser", uriOn(1), { safe: true })).rejects.toThrow(/already registered/);

    // The daemon closes: its name goes from A, and B hears it.
    await daemon.close();
    await until(() => deaths.length > 0, 3000, () => "no removed on B");
    expect(deaths).toEqual([["lab.laser", laserUri]]);
    await expect(remoteB.lookup("lab.laser")).rejects.toThrow(NamingError);
  });

  it("signals fire once on every nameserver; filters, metadata and counts answer from the cluster's names", async () => {
    const [a, b, c] = await startCluster(3);
    const seen = new Map<RunningNameServer, string[]>([a!, b!, c!].map((ns) => [ns, []]));
    for (const [ns, events] of seen) {
      ns.nameserver.registered.connect((name) => void events.push(`+${name}`));
      ns.nameserver.removed.connect((name) => void events.push(`-${name}`));
      ns.nameserver.metadataChanged.connect((name, tags) => void events.push(`~${name}:${tags.join(",")}`));
    }
    a!.nameserver.register("lab.scope", uriOn(9001), { metadata: ["optics", "slow"] });
    b!.nameserver.register("lab.stage", uriOn(9002), { metadata: ["motion"] });
    c!.nameserver.register("office.printer", uriOn(9003));
    const full = ["+lab.scope", "+lab.stage", "+office.printer"];
    const sorted = (ns: RunningNameServer): string[] => [...seen.get(ns)!].sort();
    await until(() => [a!, b!, c!].every((ns) => sorted(ns).join() === full.join()), 3000, () => [a!, b!, c!].map((ns) => seen.get(ns)!.join()).join(" / "));

    for (const ns of [a!, b!, c!]) {
      expect(ns.nameserver.count()).toBe(4);
      expect(Object.keys(ns.nameserver.list({ prefix: "lab." }))).toEqual(["lab.scope", "lab.stage"]);
      expect(Object.keys(ns.nameserver.list({ regex: ".*\\.st" }))).toEqual(["lab.stage"]);
      expect(Object.keys(ns.nameserver.list({ metadataAny: ["motion", "slow"] }))).toEqual(["lab.scope", "lab.stage"]);
      expect(Object.keys(ns.nameserver.list({ metadataAll: ["optics", "slow"], prefix: "lab" }))).toEqual(["lab.scope"]);
      expect(ns.nameserver.lookup("office.printer", { returnMetadata: true })).toEqual({ uri: uriOn(9003), metadata: [], origin: c!.federation!.id });
    }
    a!.nameserver.setMetadata("lab.scope", ["optics"]);
    expect(a!.nameserver.remove({ prefix: "lab." })).toBe(1); // only its own: lab.stage is B's
    await until(() => [b!, c!].every((ns) => seen.get(ns)!.includes("-lab.scope")), 3000, () => [b!, c!].map((ns) => seen.get(ns)!.join()).join(" / "));
    for (const ns of [a!, b!, c!]) {
      // Once each: the local change too (its signal comes from the replica alone).
      expect(seen.get(ns)!.slice(3)).toEqual(["~lab.scope:optics", "-lab.scope"]);
      expect(Object.keys(ns.nameserver.list())).toEqual(["lab.stage", "office.printer", NAMESERVER_NAME]);
    }
    // Autoclean and persistence stay local: each nameserver's storage holds its own names only.
    expect(Object.keys(b!.nameserver._ownNames())).toEqual(["lab.stage", NAMESERVER_NAME]);
  });

  it("names stored before federating are published at start; a nameserver joining later gets them all", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-fednames-"));
    use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const storage = `sqlite:${join(dir, "ns.db")}`;
    const alone = await startNameServer({ port: 0, broadcast: false, storage });
    alone.nameserver.register("lab.old", uriOn(9501), { metadata: ["kept"] });
    await alone.close();
    const options = { cluster: cluster(), beaconPort: beaconPort() };
    const a = await startNameServer({ port: 0, broadcast: false, storage, federation: options });
    use.onCleanup(() => a.close());
    a.nameserver.register("lab.new", uriOn(9502));
    const b = await startNameServer({ port: 0, broadcast: false, federation: options });
    use.onCleanup(() => b.close());
    // No push reaches a nameserver that was not there: the digests swapped on the new link do.
    await until(() => has(b, "lab.old") && has(b, "lab.new"), 4000, () => names(b));
    expect(b.nameserver.lookup("lab.old", { returnMetadata: true })).toEqual({ uri: uriOn(9501), metadata: ["kept"], origin: a.federation!.id });
    expect(b.nameserver.lookup(NAMESERVER_NAME, { returnMetadata: true })).toEqual({ uri: b.uri, metadata: [], origin: b.federation!.id });
  });

  it("a nameserver that stops: its names disappear from the others at once, and removed fires", async () => {
    const [a, b] = await startCluster(2);
    const gone: string[] = [];
    b!.nameserver.removed.connect((name) => void gone.push(name));
    for (let i = 0; i < 20; i++) a!.nameserver.register(`lab.dev${i}`, uriOn(9100 + i));
    b!.nameserver.register("lab.keeper", uriOn(9200));
    await until(() => b!.nameserver.count() === 22, 3000, () => names(b!));
    const stoppedAt = Date.now();
    await a!.close();
    await until(() => !has(b!, "lab.dev0"), 2000, () => names(b!));
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect(Object.keys(b!.nameserver.list())).toEqual(["lab.keeper", NAMESERVER_NAME]);
    expect(gone.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `lab.dev${i}`).sort());
  });

  it("a name claimed on two nameservers: both agree on the winner, the loser is told and stays reachable qualified", async () => {
    const [a, b] = await startCluster(2);
    const [remoteA, remoteB] = [await nsProxy(a!), await nsProxy(b!)];
    const lostOn = new Map<string, [string, string, string][]>([["a", []], ["b", []]]);
    await remoteA.conflict.connect((name, uri, origin) => void lostOn.get("a")!.push([name, uri, origin]));
    await remoteB.conflict.connect((name, uri, origin) => void lostOn.get("b")!.push([name, uri, origin]));
    const watch = new NodeChild("watch", CLI_PATH, ["ns", "watch", "--json", "--ns", endpointOf(b!)]);
    use.onCleanup(() => watch.kill("SIGKILL"));
    await watch.waitForLine((l) => l.startsWith("watching"), 10_000, "watching");
    const [uriA, uriB] = [uriOn(9301), uriOn(9302)];
    await remoteA.register("lab.shared", uriA);
    await until(() => has(b!, "lab.shared"), 3000, () => names(b!));
    // Claimed after A's claim reached B: A's is the earlier claim everywhere.
    await remoteB.register("lab.shared", uriB, { metadata: ["spare"] });
    await until(() => lostOn.get("b")!.length > 0, 3000, () => "no conflict signal on B");
    await until(() => a!.nameserver.conflicts().length > 0, 3000, () => "A sees no conflict");
    expect(lostOn.get("b")).toEqual([["lab.shared", uriA, a!.federation!.id]]);
    expect(lostOn.get("a")).toEqual([]);
    const [idA, idB] = [a!.federation!.id, b!.federation!.id];
    const told = await watch.waitForLine((l) => l.includes('"event":"conflict"'), 5000, "the conflict in ns watch");
    expect(JSON.parse(told)).toEqual({ event: "conflict", name: "lab.shared", winnerUri: uriA, winnerOrigin: idA });
    const expected: NameConflict[] = [
      {
        name: "lab.shared",
        winner: { uri: uriA, metadata: [], origin: idA, qualified: `lab.shared,${idA.slice(0, 8)}` },
        losers: [{ uri: uriB, metadata: ["spare"], origin: idB, qualified: `lab.shared,${idB.slice(0, 8)}` }],
      },
    ];
    expect(await remoteA.conflicts()).toEqual(expected);
    expect(await remoteB.conflicts()).toEqual(expected);
    for (const remote of [remoteA, remoteB]) {
      expect(await remote.lookup("lab.shared")).toBe(uriA);
      expect(await remote.lookup(`lab.shared,${idB.slice(0, 8)}`)).toBe(uriB);
      expect(await remote.lookup(`lab.shared,${idA}`)).toBe(uriA);
      expect(await resolve(`PYRONAME:lab.shared,${idB.slice(0, 8)}@${endpointOf(remote === remoteA ? a! : b!)}`)).toBe(uriB);
      await expect(remote.lookup(`lab.shared,${"0".repeat(8)}`)).rejects.toThrow(NamingError);
    }
    // lookup<T>() takes the qualified form too: it resolves to the loser's URI (where nothing listens here).
    await expect(lookup(`lab.shared,${idB.slice(0, 8)}`, { ns: endpointOf(a!) })).rejects.toThrow(/cannot connect to tcp:\/\/127\.0\.0\.1:9302/);

    // Through the CLI, as a script reads it.
    const cli = new NodeChild("conflicts", CLI_PATH, ["ns", "conflicts", "--json", "--ns", endpointOf(b!)]);
    use.onCleanup(() => cli.kill("SIGKILL"));
    expect((await cli.expectExit(10_000)).code).toBe(0);
    expect(JSON.parse(cli.lines.join("\n"))).toEqual(expected);
    const human = new NodeChild("conflicts", CLI_PATH, ["ns", "conflicts", "--ns", endpointOf(a!)]);
    use.onCleanup(() => human.kill("SIGKILL"));
    expect((await human.expectExit(10_000)).code).toBe(0);
    expect(human.lines).toEqual([`lab.shared  won by ${idA.slice(0, 8)}  ${uriA}`, `  lost by ${idB.slice(0, 8)}  ${uriB}  (reach it as lab.shared,${idB.slice(0, 8)})`]);
    const list = new NodeChild("list", CLI_PATH, ["ns", "list", "--json", "--ns", endpointOf(a!)]);
    use.onCleanup(() => list.kill("SIGKILL"));
    expect((await list.expectExit(10_000)).code).toBe(0);
    expect(JSON.parse(list.lines.join("\n"))).toEqual({ "lab.shared": { uri: uriA, metadata: [], origin: idA }, [NAMESERVER_NAME]: { uri: a!.uri, metadata: [], origin: idA } });
    const table = new NodeChild("list", CLI_PATH, ["ns", "list", "--ns", endpointOf(b!)]);
    use.onCleanup(() => table.kill("SIGKILL"));
    expect((await table.expectExit(10_000)).code).toBe(0);
    expect(table.lines[0]).toBe(`lab.shared${" ".repeat(NAMESERVER_NAME.length - "lab.shared".length)}  ${idA.slice(0, 8)}  ${uriA}`);

    // The winner withdraws: the loser's claim shows everywhere.
    await remoteA.remove("lab.shared");
    await until(() => b!.nameserver.lookup("lab.shared") === uriB && a!.nameserver.lookup("lab.shared") === uriB, 3000, () => `${names(a!)} / ${names(b!)}`);
    expect(a!.nameserver.conflicts()).toEqual([]);
    expect(b!.nameserver.conflicts()).toEqual([]);
  });
});

describe("what peers may not do to a replica", () => {
  it("garbage, strangers, forged origins, stale versions and oversized messages are refused or ignored and change nothing", async () => {
    const [a, b] = await startCluster(2);
    const [idA, idB] = [a!.federation!.id, b!.federation!.id];
    a!.nameserver.register("lab.real", uriOn(9401), { metadata: ["x"] });
    b!.nameserver.register("lab.mine", uriOn(9402));
    await until(() => has(b!, "lab.real") && has(a!, "lab.mine"), 3000, () => `${names(a!)} / ${names(b!)}`);
    const before = JSON.stringify(b!.nameserver.list({ returnMetadata: true }));
    const inbox = await use.connect<PeerInbox>(`PYRO:${FEDERATION_OBJECT_ID}@${endpointOf(b!)}`);
    const refusedBefore = b!.federation!.stats.refusedMessages;

    const random = prng(10);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const junk = (depth: number): unknown => {
      const r = random();
      if (depth > 2 || r < 0.3) return pick([null, 0, 1, -1, 2 ** 60, "x", "", true, idA, idB, "0".repeat(16), uriOn(1)]);
      if (r < 0.55) return Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1));
      const keys = ["kind", "from", "hops", "records", "hash", "versions", "reply", "ranges", "snapshots", "origin", "version", "name", "claim", "uri", "metadata"];
      return Object.fromEntries(keys.filter(() => random() < 0.5).map((k) => [k, k === "kind" ? pick(["push", "summary", "digest", "records"]) : junk(depth + 1)]));
    };
    for (let i = 0; i < 1500; i++) await inbox.deliver(junk(0));

    const record = (fields: Partial<Record<string, unknown>>) => ({ origin: idA, version: 1, name: "lab.real", claim: 1, uri: uriOn(9999), metadata: [], ...fields });
    const stranger = "e".repeat(32);
    // From a nameserver that is not a member: ignored, whatever it says.
    await inbox.deliver({ kind: "push", from: stranger, hops: 0, records: [record({ origin: stranger, name: "lab.intruder" })] });
    await inbox.deliver({ kind: "digest", from: stranger, versions: {}, reply: true });
    // From a member, records of B's own origin (only B changes them), and a stale copy of A's first version.
    await inbox.deliver({ kind: "push", from: idA, hops: 0, records: [record({ origin: idB, version: 99, name: "lab.mine", uri: uriOn(6666) })] });
    await inbox.deliver({ kind: "records", from: idA, records: [record({})], ranges: [], snapshots: [] });
    // Over the caps, or malformed in one field: refused whole.
    const many: Record<string, number> = {};
    for (let i = 0; i <= MAX_ORIGINS; i++) many[i.toString(16).padStart(32, "0")] = 1;
    await inbox.deliver({ kind: "digest", from: idA, versions: many, reply: true });
    await inbox.deliver({ kind: "records", from: idA, records: Array.from({ length: MAX_RECORDS + 1 }, (_, i) => record({ version: 1000 + i, name: `lab.n${i}` })), ranges: [], snapshots: [] });
    await inbox.deliver({ kind: "push", from: idA, hops: 0, records: [record({ version: 50, name: "lab.bad", uri: "PYRONAME:lab.real" })] });
    await inbox.deliver({ kind: "push", from: idA, hops: 0, records: [record({ version: 50, name: "lab.bad", metadata: ["b", "a"] })] });
    await inbox.deliver({ kind: "push", from: idA, hops: 0, records: [record({ version: 50, name: NAMESERVER_NAME })] });
    await inbox.$meta();

    const stats = b!.federation!.stats;
    expect(stats.refusedMessages - refusedBefore).toBeGreaterThanOrEqual(5);
    expect(stats.replication.notMember).toBeGreaterThanOrEqual(2);
    expect(stats.replication.forged).toBe(1);
    expect(stats.replication.stale).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(b!.nameserver.list({ returnMetadata: true }))).toBe(before);
    expect(b!.nameserver.conflicts()).toEqual([]);
    // Still one working namespace: a new name on A reaches B, and one on B reaches A.
    a!.nameserver.register("lab.after", uriOn(9403));
    b!.nameserver.register("lab.after2", uriOn(9404));
    await until(() => has(b!, "lab.after") && has(a!, "lab.after2"), 3000, () => `${names(a!)} / ${names(b!)}`);
    expect(a!.nameserver.lookup("lab.mine")).toBe(uriOn(9402));
  });
});
