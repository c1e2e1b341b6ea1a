/**
 * Global discovery against a real etcd (test/etcd/etcd-server.ts) on loopback: two clusters
 * of in-process nameservers, each started with `global`, bridged by their leaders. Ids are
 * chosen (sqlite storage with a prepared identity file), so who leads is known. Across
 * hosts, with crashes: test/federation-hosts-global.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { remoteOriginId } from "../src/federation/remote-origin.js";
import { NamingError, startNameServer, type RunningNameServer } from "../src/index.js";
import { etcdAvailable, etcdHarness, INSTALL_HINT } from "./etcd/etcd-server.js";
import { resources } from "./helpers.js";
import { freePort } from "./host-processes.js";

const mustRun = Boolean(process.env.CI);
const skip = !etcdAvailable() && !mustRun;
if (skip) console.warn(`global-bridge.test.ts skipped: ${INSTALL_HINT}`);

// The harness first: hooks run last-registered first, so nameservers close before etcd stops.
const etcd = etcdHarness();
const use = resources();

const idOf = (n: number): string => n.toString(16).padStart(32, "0");
const beaconPort = (): number => 20_000 + Math.floor(Math.random() * 30_000);

/** Polls until `check` holds (every 25 ms), failing with `what` after `ms`; how long it took. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return Date.now() - start;
}

const lookupOf = (ns: RunningNameServer, name: string): string | undefined => {
  try {
    return ns.nameserver.lookup(name) as string;
  } catch (error) {
    if (error instanceof NamingError) return undefined;
    throw error;
  }
};

interface Lab {
  readonly dir: string;
  readonly global: string;
  readonly client: Etcd3;
  readonly ports: Map<string, number>;
  start(cluster: string, id: number): Promise<RunningNameServer>;
  /** The names under `<prefix>/<cluster>/names/` with the lease each is on. */
  keys(cluster: string): Promise<Map<string, string>>;
  leaderKey(cluster: string): Promise<string | undefined>;
}

async function lab(): Promise<Lab> {
  if (!etcdAvailable()) throw new Error(`CI is set, so this must run: ${INSTALL_HINT}`);
  const member = await etcd.single();
  const dir = mkdtempSync(join(tmpdir(), "pyro-ts-global-"));
  use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  const client = etcd.client([member]);
  const ports = new Map<string, number>();
  const global = `etcd://${member.endpoint}/labs`;
  return {
    dir,
    global,
    client,
    ports,
    async start(cluster, id) {
      const storage = join(dir, `${cluster}-${id}.db`);
      writeFileSync(`${storage}.federation.json`, JSON.stringify({ id: idOf(id), incarnation: 0, version: 0, clock: 0 }));
      if (!ports.has(cluster)) ports.set(cluster, beaconPort());
      const running = await startNameServer({ port: 0, broadcast: false, storage: `sqlite:${storage}`, federation: { cluster, beaconPort: ports.get(cluster)! }, global });
      use.onCleanup(() => running.close());
      return running;
    },
    async keys(cluster) {
      const prefix = `/labs/${cluster}/names/`;
      const found = await client.getAll().prefix(prefix).exec();
      return new Map(found.kvs.map((kv) => [kv.key.toString().slice(prefix.length), kv.lease]));
    },
    async leaderKey(cluster) {
      const text = await client.get(`/labs/${cluster}/leader`).string();
      return text === null ? undefined : (JSON.parse(text) as { id: string }).id;
    },
  };
}

/** Waits until every nameserver lists every other alive. */
async function joined(servers: readonly RunningNameServer[]): Promise<void> {
  await until(() => servers.every((ns) => ns.nameserver.peers().filter((p) => p.state === "alive").length === servers.length), 5000, () => "the cluster did not form");
}

describe.skipIf(skip)("global discovery through leaders (real etcd, loopback)", () => {
  it("names cross between two clusters both ways, written to etcd by each cluster's leader alone, once each", async () => {
    const l = await lab();
    const [a1, a2, b1, b2] = [await l.start("one", 0x10), await l.start("one", 0x20), await l.start("two", 0x30), await l.start("two", 0x40)];
    await joined([a1, a2]);
    await joined([b1, b2]);
    // Bridging starts once a nameserver has run 3 s (settled).
    const bridged = await until(() => a1.global!.stats.writing && b1.global!.stats.writing, 10_000, () => "the leaders never took their clusters' leader keys");
    await a2.nameserver.register("one.laser", "PYRO:laser@10.0.0.2:9100", { metadata: ["optics"] });
    await b2.nameserver.register("two.stage", "PYRO:stage@10.0.1.2:9100");
    const crossed = await until(() => lookupOf(b1, "one.laser") !== undefined && lookupOf(b2, "one.laser") !== undefined && lookupOf(a1, "two.stage") !== undefined && lookupOf(a2, "two.stage") !== undefined, 10_000, () => `b1 ${JSON.stringify(b1.nameserver.list())}, a1 ${JSON.stringify(a1.nameserver.list())}`);
    console.info(`global (loopback): bridges writing ${bridged} ms after the clusters formed; names registered on non-leaders crossed to every nameserver of the other cluster in ${crossed} ms`);
    expect(b1.nameserver.lookup("one.laser", { returnMetadata: true })).toEqual({ uri: "PYRO:laser@10.0.0.2:9100", metadata: ["optics"], origin: remoteOriginId("/labs", "one") });
    expect(a2.nameserver.lookup("two.stage", { returnMetadata: true })).toMatchObject({ origin: remoteOriginId("/labs", "two") });
    // Each cluster's names in etcd, once, on its leader's lease; the leader key names the leader.
    expect([...(await l.keys("one")).keys()]).toEqual(["one.laser"]);
    expect([...(await l.keys("two")).keys()]).toEqual(["two.stage"]);
    expect(await l.leaderKey("one")).toBe(idOf(0x10));
    expect(await l.leaderKey("two")).toBe(idOf(0x30));
    expect([a1.global!.stats.writing, a2.global!.stats.writing, b1.global!.stats.writing, b2.global!.stats.writing]).toEqual([true, false, true, false]);
    // The other cluster's names are not exported again: cluster one's keys hold only its own.
    for (const ns of [a1, a2, b1, b2]) expect(ns.nameserver.conflicts()).toEqual([]);

    // A removal crosses too; a retag as well.
    await b2.nameserver.setMetadata("two.stage", ["motion"]);
    await until(() => JSON.stringify(a1.nameserver.list({ returnMetadata: true })).includes("motion"), 5000, () => JSON.stringify(a1.nameserver.list({ returnMetadata: true })));
    await a2.nameserver.remove("one.laser");
    await until(() => lookupOf(b1, "one.laser") === undefined && lookupOf(b2, "one.laser") === undefined, 5000, () => JSON.stringify(b1.nameserver.list()));
    expect((await l.keys("one")).size).toBe(0);
    expect(a1.federation!.stats.replication.remoteForged + a2.federation!.stats.replication.remoteForged).toBe(0);
  }, 40_000);

  it("a lower id joining takes the bridge over: the names stay in etcd throughout, the old leader's lease goes", async () => {
    const l = await lab();
    const [a2, a3, b] = [await l.start("one", 0x20), await l.start("one", 0x30), await l.start("two", 0x40)];
    await joined([a2, a3]);
    await a3.nameserver.register("one.kept", "PYRO:kept@10.0.0.3:9100");
    await until(async () => (await l.keys("one")).has("one.kept") && lookupOf(b, "one.kept") !== undefined, 10_000, () => "one.kept never reached etcd and cluster two");
    const oldLease = (await l.keys("one")).get("one.kept")!;

    // Every delete of cluster one's names in etcd from now on is a gap.
    const deletes: string[] = [];
    const watcher = await l.client.watch().prefix("/labs/one/names/").create();
    use.onCleanup(() => watcher.cancel());
    watcher.on("delete", (kv) => deletes.push(kv.key.toString()));

    const started = Date.now();
    const a1 = await l.start("one", 0x01);
    await joined([a1, a2, a3]);
    const moved = await until(async () => (await l.leaderKey("one")) === idOf(0x01) && (await l.keys("one")).get("one.kept") !== oldLease, 20_000, () => "the bridge did not move to the new lowest id");
    console.info(`global (loopback): a lower id joined; it wrote the cluster's names ${Date.now() - started} ms after it started (${moved} ms after it joined; 3 s of it settling)`);
    // The old leader revokes its lease once nothing is left on it.
    await until(async () => (await l.client.leaseClient.leaseTimeToLive({ ID: oldLease })).TTL === "-1", 5000, () => "the old leader's lease is still alive");
    expect(deletes).toEqual([]);
    expect([...(await l.keys("one")).keys()]).toEqual(["one.kept"]);
    expect(lookupOf(b, "one.kept")).toBe("PYRO:kept@10.0.0.3:9100");
    expect(a1.global!.stats.writing).toBe(true);
    expect(a2.global!.stats.writing).toBe(false);
  }, 40_000);

  it("the leader closing: the next one takes over at once, nothing leaves etcd but the closing one's own names", async () => {
    const l = await lab();
    const [a1, a2, b] = [await l.start("one", 0x10), await l.start("one", 0x20), await l.start("two", 0x40)];
    await joined([a1, a2]);
    await a1.nameserver.register("one.leaders", "PYRO:l@10.0.0.1:9100");
    await a2.nameserver.register("one.stays", "PYRO:s@10.0.0.2:9100");
    await until(() => lookupOf(b, "one.stays") !== undefined && lookupOf(b, "one.leaders") !== undefined, 10_000, () => JSON.stringify(b.nameserver.list()));
    const deletes: string[] = [];
    const watcher = await l.client.watch().prefix("/labs/one/names/").create();
    use.onCleanup(() => watcher.cancel());
    watcher.on("delete", (kv) => deletes.push(kv.key.toString().slice("/labs/one/names/".length)));

    const closing = Date.now();
    await a1.close();
    const closed = Date.now() - closing;
    const taken = await until(async () => (await l.leaderKey("one")) === idOf(0x20) && lookupOf(b, "one.leaders") === undefined, 5000, () => "a2 did not take over");
    console.info(`global (loopback): the leader closed in ${closed} ms; cluster two lost its names ${taken} ms later`);
    expect(deletes).toEqual(["one.leaders"]);
    expect(lookupOf(b, "one.stays")).toBe("PYRO:s@10.0.0.2:9100");
    expect([...(await l.keys("one")).keys()]).toEqual(["one.stays"]);
  }, 40_000);

  it("two halves of one cluster that cannot see each other both lead: one writes, the other yields, and etcd settles", async () => {
    const l = await lab();
    // The same cluster name on two beacon ports: two nameservers that never meet, each its own leader (a partition).
    const a1 = await l.start("one", 0x10);
    l.ports.set("one", beaconPort());
    const a2 = await l.start("one", 0x20);
    await a1.nameserver.register("one.left", "PYRO:l@10.0.0.1:9100");
    await a2.nameserver.register("one.right", "PYRO:r@10.0.0.2:9100");
    await until(() => a1.global!.stats.takeovers + a2.global!.stats.takeovers >= 2 || a1.global!.stats.yielded + a2.global!.stats.yielded >= 1, 10_000, () => JSON.stringify([a1.global!.stats, a2.global!.stats]));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const revisionOf = async (): Promise<number> => Number((await l.client.kv.range({ key: Buffer.from("/labs/") })).header.revision);
    const settled = await revisionOf();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // No write war: nothing was written in 3 s (keepalives write nothing), one of them writes, the other yielded.
    expect(await revisionOf()).toBe(settled);
    const writers = [a1, a2].filter((ns) => ns.global!.stats.writing);
    expect(writers).toHaveLength(1);
    expect(a1.global!.stats.yielded + a2.global!.stats.yielded).toBe(1);
    const writer = writers[0]!;
    expect([...(await l.keys("one")).keys()]).toEqual([writer === a1 ? "one.left" : "one.right"]);
    expect(await l.leaderKey("one")).toBe(writer === a1 ? idOf(0x10) : idOf(0x20));
  }, 40_000);

  it("etcd unreachable: the nameserver serves its cluster's names, the bridge keeps trying, and closing is bounded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pyro-ts-global-"));
    use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
    const silent = await freePort();
    const options = { port: 0, broadcast: false, federation: { cluster: "one", beaconPort: beaconPort() }, global: `etcd://127.0.0.1:${silent}/labs` };
    const [a, b] = [await startNameServer(options), await startNameServer(options)];
    use.onCleanup(() => a.close());
    use.onCleanup(() => b.close());
    await joined([a, b]);
    await a.nameserver.register("one.local", "PYRO:x@10.0.0.1:9100");
    await until(() => lookupOf(b, "one.local") !== undefined, 3000, () => "the cluster's own replication stopped");
    const leader = [a, b].find((ns) => ns.global!.stats.leading)!;
    await until(() => leader.global!.stats.failures > 0, 10_000, () => JSON.stringify(leader.global!.stats));
    expect(leader.global!.stats.sessions).toBe(1);
    expect(leader.global!.stats.writing).toBe(false);
    const closing = Date.now();
    await Promise.all([a.close(), b.close()]);
    const closed = Date.now() - closing;
    console.info(`global (loopback): with etcd unreachable, two nameservers closed in ${closed} ms`);
    expect(closed).toBeLessThan(5000);
  }, 40_000);

  it("refuses --global without federation, a bad spec, and a cluster name that is no key segment", async () => {
    await expect(startNameServer({ port: 0, broadcast: false, global: "etcd://127.0.0.1:2379/labs" })).rejects.toThrow(/needs federation/);
    await expect(startNameServer({ port: 0, broadcast: false, federation: { cluster: "x", beaconPort: beaconPort() }, global: "http://x" })).rejects.toThrow(NamingError);
    await expect(startNameServer({ port: 0, broadcast: false, federation: { cluster: "a b", beaconPort: beaconPort() }, global: "etcd://127.0.0.1:2379/labs" })).rejects.toThrow(/key segment/);
  });
});
