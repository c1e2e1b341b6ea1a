/**
 * EtcdStore against real etcd servers (Debian's etcd-server, on loopback): several stores on
 * one prefix share one namespace; leases take a dead store's names away; the watch resumes
 * or resyncs, never silently; etcd failures give stale reads and typed, bounded write errors.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { NamingError } from "../src/errors.js";
import { EtcdUnavailableError } from "../src/etcd/index.js";
import { NAMESERVER_NAME } from "../src/names.js";
import type { Registration } from "../src/naming/storage/name-storage.js";
import { compileNameRegex } from "../src/naming/safe-regex.js";
import { etcdAvailable, etcdHarness, INSTALL_HINT } from "./etcd/etcd-server.js";
import { etcdStores, registeredNames, removedNames } from "./etcd/etcd-stores.js";
import { tcpProxies } from "./etcd/tcp-proxy.js";
import { freePort, until } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const AVAILABLE = etcdAvailable();
const HOLDER = join(fileURLToPath(new URL(".", import.meta.url)), "..", "dist", "test", "fixtures", "etcd-holder.js");

const reg = (name: string, tags: string[] = [], port = 4711): Registration => ({ name, uri: `PYRO:${name}@127.0.0.1:${port}`, metadata: [...tags].sort() });
const names = (rs: readonly Registration[]): string[] => rs.map((r) => r.name);

/** Milliseconds `promise` took to settle, and how. */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const start = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - start, value };
  } catch (error) {
    return { ms: Date.now() - start, error };
  }
}

if (!AVAILABLE && process.env.CI) {
  describe("etcd storage", () => {
    it("needs etcd installed under CI", () => {
      expect.fail(INSTALL_HINT);
    });
  });
} else if (!AVAILABLE) {
  console.warn(`skipping test/etcd-store.test.ts: ${INSTALL_HINT}`);
}

describe.skipIf(!AVAILABLE)("etcd name storage", () => {
  // After each test: stores close first, then the relays they use, then etcd (hooks run in reverse order).
  const etcd = etcdHarness();
  const proxies = tcpProxies();
  const stores = etcdStores();

  it("a registration through one store is seen, and announced, on another; its own entry stays local", async () => {
    const member = await etcd.single();
    const options = { endpoints: [member.endpoint], prefix: "/labs/physics" };
    const a = await stores.open(options);
    const b = await stores.open(options);
    const other = await stores.open({ ...options, prefix: "/labs/chemistry" });

    await a.store.put(reg("lab.laser", ["laser", "1550nm"]));
    // Resolved only once etcd committed it and the writer's own view shows it.
    expect(a.store.get("lab.laser")).toEqual(reg("lab.laser", ["laser", "1550nm"]));
    expect(await until(() => b.store.get("lab.laser") !== undefined, 2000)).toBe(true);
    expect(b.changes).toEqual([{ kind: "registered", registration: reg("lab.laser", ["laser", "1550nm"]) }]);
    expect(a.changes).toEqual(b.changes); // the writer hears its own write back from the watch
    expect(b.store.originOf("lab.laser")).toBe(a.store.id);

    await a.store.put(reg("lab.camera", ["camera"]));
    await b.store.put(reg("lab.scope", ["laser", "scope"]));
    expect(await b.store.setMetadata("lab.camera", ["camera", "usb"])).toBe(true);
    expect(await until(() => a.store.get("lab.camera")?.metadata.length === 2, 2000)).toBe(true);
    for (const { store } of [a, b]) {
      expect(names(store.list({ prefix: "lab.s" }))).toEqual(["lab.scope"]);
      expect(names(store.list({ regex: compileNameRegex("lab\\.(c|l)") }))).toEqual(["lab.camera", "lab.laser"]);
      expect(names(store.list({ metadataAll: ["laser"] }))).toEqual(["lab.laser", "lab.scope"]);
      expect(names(store.list({ metadataAny: ["usb", "scope"] }))).toEqual(["lab.camera", "lab.scope"]);
    }
    expect(await a.store.setMetadata("no.such.name", ["x"])).toBe(false);

    // Each nameserver's own entry is its own: never in etcd, never announced.
    await a.store.put(reg(NAMESERVER_NAME, [], 9090));
    expect(a.store.get(NAMESERVER_NAME)).toBeDefined();
    expect(a.store.count()).toBe(4);
    expect(b.store.get(NAMESERVER_NAME)).toBeUndefined();

    expect(names(await b.store.remove(["lab.laser", "no.such.name"]))).toEqual(["lab.laser"]);
    expect(await until(() => a.store.get("lab.laser") === undefined, 2000)).toBe(true);
    expect(a.changes.at(-1)).toEqual({ kind: "removed", registration: reg("lab.laser", ["laser", "1550nm"]) });
    expect(b.changes.map((c) => c.kind)).toEqual(["registered", "registered", "registered", "metadataChanged", "removed"]);
    expect(other.store.count()).toBe(0);
    expect(other.changes).toEqual([]);
    expect(a.store.shared.stale || b.store.shared.stale).toBe(false);
  });

  it("of two stores racing safe registrations for the same names, exactly one wins each", async () => {
    const member = await etcd.single();
    const options = { endpoints: [member.endpoint], prefix: "/race" };
    const [a, b] = [await stores.open(options), await stores.open(options)];
    const raced = Array.from({ length: 20 }, (_, i) => `race.n${i}`);
    const results = await Promise.all(raced.map((name) => Promise.all([a.store.putIfAbsent(reg(name, [], 1)), b.store.putIfAbsent(reg(name, [], 2))])));
    for (const [i, [wonA, wonB]] of results.entries()) {
      expect(wonA !== wonB, raced[i]).toBe(true);
      const winner = wonA ? 1 : 2;
      expect(await until(() => b.store.get(raced[i]!)?.uri === reg(raced[i]!, [], winner).uri && a.store.get(raced[i]!)?.uri === reg(raced[i]!, [], winner).uri, 2000)).toBe(true);
    }
    expect(await a.store.putIfAbsent(reg("race.n0", [], 3))).toBe(false);
  });

  it("a store's names vanish everywhere within TTL + 2 s of its process being SIGKILLed, at once when it closes", async () => {
    const member = await etcd.single();
    const options = { endpoints: [member.endpoint], prefix: "/kill", leaseTtl: 2 };
    const watcher = await stores.open(options);
    const holder = new NodeChild("etcd-holder", HOLDER, [member.endpoint, "/kill", "2", "held.a", "held.b", "held.c"]);
    try {
      await holder.waitForLine((line) => line.startsWith("ready "), 10_000, "ready");
      expect(await until(() => watcher.store.count() === 3, 2000)).toBe(true);
      holder.signal("SIGKILL");
      const gone = await timed(until(() => watcher.store.count() === 0, 4000));
      expect(gone.value).toBe(true);
      expect(removedNames(watcher.changes).sort()).toEqual(["held.a", "held.b", "held.c"]);
      console.info(`etcd: names of a SIGKILLed store (TTL 2 s) removed after ${gone.ms} ms`);
    } finally {
      await holder.kill();
    }

    const leaving = await stores.open(options);
    await leaving.store.put(reg("leaving.a"));
    expect(await until(() => watcher.store.count() === 1, 2000)).toBe(true);
    await leaving.store.close();
    const closed = await timed(until(() => watcher.store.count() === 0, 1000));
    expect(closed.value).toBe(true);
  });

  it("etcd killed and restarted: no acknowledged registration is lost, writes fail fast meanwhile, the watch resumes", async () => {
    const member = await etcd.single();
    const options = { endpoints: [member.endpoint], prefix: "/restart" };
    const [a, b] = [await stores.open(options), await stores.open(options)];
    for (let i = 0; i < 5; i++) await a.store.put(reg(`before.${i}`));

    await member.kill();
    const refused = await timed(a.store.put(reg("during.0")));
    expect(refused.error).toBeInstanceOf(EtcdUnavailableError);
    expect(refused.error).toBeInstanceOf(NamingError);
    expect(refused.ms).toBeLessThan(3000);
    expect(await until(() => b.store.shared.stale, 4000)).toBe(true);
    expect(b.store.get("before.3")).toEqual(reg("before.3")); // reads answer from the view
    console.info(`etcd: a write with etcd down rejected after ${refused.ms} ms`);

    member.start();
    await member.healthy();
    const resumed = await timed(until(() => !a.store.shared.stale && !b.store.shared.stale, 10_000));
    expect(resumed.value).toBe(true);
    console.info(`etcd: watches current again ${resumed.ms} ms after etcd answered health`);
    for (let i = 0; i < 3; i++) await a.store.put(reg(`after.${i}`));
    const expected = [...Array.from({ length: 5 }, (_, i) => `before.${i}`), ...Array.from({ length: 3 }, (_, i) => `after.${i}`)];
    expect(await until(() => b.store.count() === 8, 3000)).toBe(true);
    expect(names(b.store.list({})).sort()).toEqual(expected.sort());
    expect(a.store.get("during.0")).toBeUndefined();
    // Every change or an explicit resync: here the history was kept, so every change.
    expect(registeredNames(b.changes).sort()).toEqual(expected.sort());
    expect(b.changes.some((c) => c.kind === "resync")).toBe(false);
  });

  it("etcd unreachable for one store: reads answer from its view (stale), writes reject within 3 s, all resumes after", async () => {
    const member = await etcd.single();
    const proxy = await proxies.start(member.endpoint);
    const a = await stores.open({ endpoints: [member.endpoint], prefix: "/cut" });
    const b = await stores.open({ endpoints: [proxy.endpoint], prefix: "/cut" });
    await b.store.put(reg("b.own"));
    await a.store.put(reg("a.own"));
    expect(await until(() => b.store.count() === 2, 2000)).toBe(true);

    proxy.cut();
    const stale = await timed(until(() => b.store.shared.stale, 4000));
    expect(stale.value).toBe(true);
    console.info(`etcd: a store cut off from etcd is stale after ${stale.ms} ms`);
    expect(b.store.get("a.own")).toEqual(reg("a.own"));
    expect(names(b.store.list({ prefix: "a." }))).toEqual(["a.own"]);
    const writes: Promise<unknown>[] = [b.store.put(reg("b.late")), b.store.putIfAbsent(reg("b.late")), b.store.setMetadata("b.own", ["x"]), b.store.remove(["a.own"])];
    for (const refused of await Promise.all(writes.map(timed))) {
      expect(refused.error).toBeInstanceOf(EtcdUnavailableError);
      expect(refused.ms).toBeLessThan(3000);
    }
    await a.store.put(reg("a.meanwhile"));

    proxy.restore();
    expect(await until(() => !b.store.shared.stale, 5000)).toBe(true);
    expect(await until(() => b.store.get("a.meanwhile") !== undefined, 2000)).toBe(true);
    await b.store.put(reg("b.late"));
    expect(await until(() => a.store.get("b.late") !== undefined, 2000)).toBe(true);
    expect(a.store.get("b.own")).toEqual(reg("b.own")); // a short cut costs no lease
    // No etcd at all: opening fails, typed and bounded.
    const nowhere = await timed(stores.open({ endpoints: [`127.0.0.1:${await freePort()}`], prefix: "/cut", openTimeoutMs: 1000 }));
    expect(nowhere.error).toBeInstanceOf(EtcdUnavailableError);
    expect(nowhere.ms).toBeLessThan(2000);
  });

  it("a compaction while a store is cut off leads to a resync with the differences, not a gap", async () => {
    const member = await etcd.single();
    const proxy = await proxies.start(member.endpoint);
    const a = await stores.open({ endpoints: [member.endpoint], prefix: "/compact" });
    const b = await stores.open({ endpoints: [proxy.endpoint], prefix: "/compact" });
    for (const name of ["keep", "drop", "retag", "move"]) await a.store.put(reg(name, ["t"]));
    expect(await until(() => b.store.count() === 4, 2000)).toBe(true);

    proxy.cut();
    expect(await until(() => b.store.shared.stale, 4000)).toBe(true);
    await a.store.remove(["drop"]);
    await a.store.setMetadata("retag", ["u"]);
    await a.store.put({ ...reg("move", ["t"]), uri: "PYRO:moved@127.0.0.1:5000" });
    await a.store.put(reg("new"));
    await etcd.compact([member]);
    const before = b.changes.length;

    proxy.restore();
    expect(await until(() => b.changes.some((c) => c.kind === "resync"), 5000)).toBe(true);
    const resync = b.changes.slice(before);
    expect(resync.at(-1)).toEqual({ kind: "resync" });
    const kinds = Object.fromEntries(resync.slice(0, -1).map((c) => [c.kind === "resync" ? "" : c.registration.name, c.kind]));
    expect(kinds).toEqual({ drop: "removed", retag: "metadataChanged", move: "registered", new: "registered" });
    expect(b.store.list({})).toEqual(a.store.list({}));
    expect(b.logs.some((line) => line.includes("compacted"))).toBe(true);
  });

  it("a store that loses its lease (cut off past its TTL) registers its names again and says so", async () => {
    const member = await etcd.single();
    const proxy = await proxies.start(member.endpoint);
    const a = await stores.open({ endpoints: [member.endpoint], prefix: "/lease", leaseTtl: 2 });
    const b = await stores.open({ endpoints: [proxy.endpoint], prefix: "/lease", leaseTtl: 2 });
    await b.store.put(reg("b.one"));
    await b.store.put(reg("b.two"));
    await b.store.put(reg("b.taken"));
    await b.store.remove(["b.two"]);
    expect(await until(() => a.store.count() === 2, 2000)).toBe(true);

    proxy.cut();
    expect(await until(() => a.store.count() === 0, 5000)).toBe(true); // the lease expired
    await a.store.put(reg("b.taken", [], 5555)); // taken meanwhile: it stays a's
    proxy.restore();

    const back = await timed(until(() => a.store.get("b.one") !== undefined, 8000));
    expect(back.value).toBe(true);
    console.info(`etcd: names of a store whose lease was lost registered again ${back.ms} ms after it could reach etcd`);
    expect(a.store.get("b.taken")?.uri).toBe(reg("b.taken", [], 5555).uri);
    expect(a.store.get("b.two")).toBeUndefined(); // removed on purpose: not brought back
    expect(b.logs.some((line) => /lease .* expired/.test(line))).toBe(true);
    // b.taken counts among the names to restore unless the watch showed it taken first.
    expect(await until(() => b.logs.some((line) => /registered 1 of its [12] names? again/.test(line)), 3000), b.logs.join("\n")).toBe(true);
  });

  it("a three-member cluster that loses its leader goes on registering and answering", async () => {
    const members = await etcd.cluster(3);
    const options = { endpoints: members.map((m) => m.endpoint), prefix: "/cluster" };
    const [a, b] = [await stores.open(options), await stores.open(options)];
    await a.store.put(reg("before.a"));
    await b.store.put(reg("before.b"));

    const leader = await etcd.leader(members);
    await leader.kill();
    const first = await timed((async () => {
      // The first write may have to wait for an election; it must still land within its bound.
      for (;;) {
        try {
          return await a.store.put(reg("after.a"));
        } catch (error) {
          if (!(error instanceof EtcdUnavailableError)) throw error;
        }
      }
    })());
    expect(first.error).toBeUndefined();
    expect(first.ms).toBeLessThan(6000); // an election, and a write bound at most
    console.info(`etcd: first registration after the leader was SIGKILLed took ${first.ms} ms`);
    await b.store.put(reg("after.b"));
    expect(await b.store.putIfAbsent(reg("after.a", [], 2))).toBe(false);
    for (const { store } of [a, b]) {
      expect(await until(() => store.count() === 4, 3000)).toBe(true);
      expect(store.get("after.b")).toEqual(reg("after.b"));
    }
  });

  it("invalid keys and values under the prefix are skipped and counted, never applied", async () => {
    const member = await etcd.single();
    const raw = etcd.client([member]);
    const put = (key: string, value: string | Buffer) => raw.kv.put({ key: Buffer.from(`/bad/names/${key}`), value: Buffer.from(value) });
    await put("before.bad", "not json");
    const a = await stores.open({ endpoints: [member.endpoint], prefix: "/bad" });
    expect(a.store.count()).toBe(0);
    await a.store.put(reg("good"));
    await put("good", JSON.stringify({ uri: "http://nope", metadata: [], origin: "x" })); // a valid name turned bad: removed
    await put("bad name", JSON.stringify({ uri: "PYRO:x@127.0.0.1:1", metadata: [], origin: "x" }));
    await put(NAMESERVER_NAME, JSON.stringify({ uri: "PYRO:x@127.0.0.1:1", metadata: [], origin: "x" }));
    await put("tags", JSON.stringify({ uri: "PYRO:x@127.0.0.1:1", metadata: "oops", origin: "x" }));
    await put("bytes", Buffer.from([0xff, 0xfe, 0x00]));
    await put("fine", JSON.stringify({ uri: "PYRO:x@127.0.0.1:1", metadata: ["b", "a"], origin: "other-ns" }));
    expect(await until(() => a.store.get("fine") !== undefined, 2000)).toBe(true);
    expect(a.store.get("fine")!.metadata).toEqual(["a", "b"]);
    expect(names(a.store.list({}))).toEqual(["fine"]);
    expect(a.store.skipped).toBe(6);
    expect(removedNames(a.changes)).toEqual(["good"]);
    expect(a.logs.filter((line) => line.startsWith("skipped"))).toHaveLength(6);
    // What would not read back is never written.
    await expect(a.store.put({ name: "huge", uri: `PYRO:${"x".repeat(5000)}@127.0.0.1:1`, metadata: [] })).rejects.toThrow(NamingError);
  });
});
