/** The pure core of etcd storage: key layout, the local view, own-name bookkeeping and the spec parser. No server. */
import { describe, expect, it } from "vitest";
import { NamingError } from "../src/errors.js";
import { EtcdLayout, EtcdView, OwnNames, parseEtcdSpec, type EtcdKv, type EtcdRecord, type ViewChange } from "../src/etcd/index.js";
import { NAMESERVER_NAME } from "../src/names.js";

const layout = new EtcdLayout("/labs/physics");
const record = (name: string, uri = `PYRO:${name}@127.0.0.1:1`, metadata: string[] = [], origin = "ns1"): EtcdRecord => ({ name, uri, metadata, origin });
let nextRevision = 1;
const kv = (r: EtcdRecord, modRevision = nextRevision++): EtcdKv => ({ key: layout.keyOf(r.name), value: layout.encode(r), modRevision, createRevision: modRevision, lease: "7" });
const rawKv = (key: string, value: string | Buffer, modRevision = nextRevision++): EtcdKv => ({ key: Buffer.from(key), value: Buffer.from(value), modRevision, createRevision: modRevision, lease: "0" });
const summary = (changes: readonly ViewChange[]): string[] => changes.map((c) => `${c.kind} ${c.record.name}@${c.revision}`);

describe("etcd key layout", () => {
  it("puts names under <prefix>/names/ and reads back exactly what it wrote", () => {
    expect(layout.namesKey.toString()).toBe("/labs/physics/names/");
    expect(layout.namesEnd.toString()).toBe("/labs/physics/names0");
    expect(layout.keyOf("lab.laser").toString()).toBe("/labs/physics/names/lab.laser");
    const r = record("lab.laser", "PYRO:laser@127.0.0.1:4711", ["1550nm", "laser"], "abc123");
    expect(JSON.parse(layout.encode(r).toString())).toEqual({ uri: r.uri, metadata: r.metadata, origin: "abc123" });
    expect(layout.decode(layout.keyOf(r.name), layout.encode(r))).toEqual(r);
    expect(new EtcdLayout("labs/physics/").namesKey.toString()).toBe("/labs/physics/names/");
  });

  it("refuses keys and values that are no valid registration, saying why", () => {
    const value = layout.encode(record("x"));
    const invalid = (key: Buffer | string, v: Buffer | string = value): string | undefined => {
      const decoded = layout.decode(Buffer.from(key), Buffer.from(v));
      return "invalid" in decoded ? decoded.invalid : undefined;
    };
    expect(invalid("/labs/physics/names/")).toMatch(/outside/);
    expect(invalid("/labs/other/names/x")).toMatch(/outside/);
    expect(invalid("/labs/physics/names/a b")).toMatch(/whitespace/);
    expect(invalid("/labs/physics/names/a/b")).toBeDefined();
    expect(invalid(`/labs/physics/names/${NAMESERVER_NAME}`)).toMatch(/never shared/);
    expect(invalid(Buffer.concat([layout.namesKey, Buffer.from([0xc3, 0x28])]))).toMatch(/UTF-8/);
    expect(invalid(layout.keyOf("x"), "{")).toMatch(/not JSON/);
    expect(invalid(layout.keyOf("x"), "[1]")).toMatch(/not an object/);
    expect(invalid(layout.keyOf("x"), JSON.stringify({ uri: "http://x", metadata: [], origin: "a" }))).toMatch(/PYRO/);
    expect(invalid(layout.keyOf("x"), JSON.stringify({ uri: "PYRO:x@h:1", metadata: [], origin: "bad origin" }))).toMatch(/origin/);
    expect(invalid(layout.keyOf("x"), JSON.stringify({ uri: "PYRO:x@h:1", metadata: "t", origin: "a" }))).toMatch(/list/);
    expect(invalid(layout.keyOf("x"), JSON.stringify({ uri: "PYRO:x@h:1", metadata: ["a,b"], origin: "a" }))).toMatch(/commas/);
    expect(invalid(layout.keyOf("x"), Buffer.alloc(70_000, 0x20))).toMatch(/bytes/);
    // Tags from elsewhere are normalised as the nameserver would.
    expect(layout.decode(layout.keyOf("x"), Buffer.from(JSON.stringify({ uri: "PYRO:x@h:1", metadata: ["b", "a", "b"], origin: "a" })))).toMatchObject({ metadata: ["a", "b"] });
  });
});

describe("etcd view", () => {
  it("loads a listing, then applies watch events in order as registered, metadataChanged and removed", () => {
    const view = new EtcdView(layout);
    expect(summary(view.load([kv(record("a"), 2), kv(record("b"), 3)], 5))).toEqual(["registered a@5", "registered b@5"]);
    expect(view.revision).toBe(5);
    const changes = view.apply([
      { type: "put", kv: kv(record("c"), 6) },
      { type: "put", kv: kv(record("a", undefined, ["t"]), 7) },
      { type: "put", kv: kv(record("b", "PYRO:moved@127.0.0.1:2"), 8) },
      { type: "delete", key: layout.keyOf("c"), modRevision: 9 },
      { type: "delete", key: layout.keyOf("never.there"), modRevision: 9 },
      { type: "put", kv: kv(record("a", undefined, ["t"], "ns2"), 10) },
    ]);
    expect(summary(changes)).toEqual(["registered c@6", "metadataChanged a@7", "registered b@8", "removed c@9", "rewritten a@10"]);
    expect(view.revision).toBe(10);
    expect(view.get("a")?.record.origin).toBe("ns2");
    expect([...view.entries()].map((e) => e.record.name).sort()).toEqual(["a", "b"]);
  });

  it("ignores events it has already applied (a watch resumed from an older revision)", () => {
    const view = new EtcdView(layout);
    view.load([], 10);
    expect(view.apply([{ type: "put", kv: kv(record("old"), 9) }])).toEqual([]);
    expect(summary(view.apply([{ type: "put", kv: kv(record("x"), 11) }, { type: "put", kv: kv(record("y"), 11) }]))).toEqual(["registered x@11", "registered y@11"]);
    expect(view.apply([{ type: "delete", key: layout.keyOf("x"), modRevision: 11 }])).toEqual([]);
    expect(view.get("x")).toBeDefined();
  });

  it("a resync listing yields exactly the differences", () => {
    const view = new EtcdView(layout);
    view.load([kv(record("keep"), 2), kv(record("drop"), 3), kv(record("retag"), 4), kv(record("move"), 5)], 5);
    const listing = [kv(record("keep"), 2), kv(record("retag", undefined, ["u"]), 7), kv(record("move", "PYRO:moved@h:1"), 8), kv(record("new"), 9)];
    expect(summary(view.load(listing, 20)).sort()).toEqual(["metadataChanged retag@20", "registered move@20", "registered new@20", "removed drop@20"]);
    expect(view.revision).toBe(20);
    expect(view.load(listing, 21)).toEqual([]);
  });

  it("skips and counts bad data; a name whose value turns bad is removed", () => {
    const skipped: string[] = [];
    const view = new EtcdView(layout, (reason) => skipped.push(reason));
    view.load([rawKv("/labs/physics/names/bad", "nope"), kv(record("good"))], 100);
    expect(view.size).toBe(1);
    const changes = view.apply([
      { type: "put", kv: rawKv("/labs/physics/names/good", "{}", 101) },
      { type: "put", kv: rawKv("/labs/physics/names/a b", JSON.stringify({ uri: "PYRO:x@h:1", metadata: [], origin: "a" }), 102) },
      { type: "delete", key: Buffer.from("/labs/physics/names/a b"), modRevision: 103 },
    ]);
    expect(summary(changes)).toEqual(["removed good@101"]);
    expect(view.size).toBe(0);
    expect(view.skipped).toBe(3);
    expect(skipped).toHaveLength(3);
    expect(view.revision).toBe(103);
  });
});

describe("own names", () => {
  const mine = (name: string): EtcdRecord => record(name, undefined, [], "me");

  it("registers again what expired with the lease, not what was removed on purpose or taken by another", () => {
    const own = new OwnNames("me");
    for (const [i, name] of ["kept", "expired", "removed.here", "removed.there", "taken"].entries()) own.wrote(mine(name), i + 1, 0, undefined);
    own.forget("removed.here");
    own.observe({ kind: "removed", record: mine("removed.there"), revision: 10, lease: "L1" });
    own.observe({ kind: "registered", record: record("taken", "PYRO:other@h:1", [], "ns2"), revision: 11, lease: "L2" });
    own.leaseAlive("L1", 10); // the key's lease lived after the delete at 10: it was explicit
    own.observe({ kind: "removed", record: mine("expired"), revision: 12, lease: "L1" });
    own.leaseAlive("L1", 11);
    expect(own.toRestore().map((r) => r.name).sort()).toEqual(["expired", "kept"]);
  });

  it("a new lease alive says nothing of keys of the old one (their delete came with its expiry)", () => {
    const own = new OwnNames("me");
    own.wrote(mine("a"), 1, 0, undefined);
    own.observe({ kind: "removed", record: mine("a"), revision: 5, lease: "old" });
    own.leaseAlive("new", 9);
    expect(own.toRestore().map((r) => r.name)).toEqual(["a"]);
  });

  it("a write the watch has already overtaken is not ours any more", () => {
    const own = new OwnNames("me");
    own.wrote(mine("a"), 5, 7, record("a", undefined, [], "ns2"));
    own.wrote(mine("b"), 5, 7, undefined);
    own.wrote(mine("c"), 5, 7, { ...mine("c"), metadata: ["new"] });
    expect(own.toRestore()).toEqual([{ ...mine("c"), metadata: ["new"] }]);
  });

  it("follows tag changes to its names", () => {
    const own = new OwnNames("me");
    own.wrote(mine("a"), 1, 0, undefined);
    own.observe({ kind: "metadataChanged", record: { ...mine("a"), metadata: ["t"] }, revision: 2, lease: "L1" });
    expect(own.toRestore()).toEqual([{ ...mine("a"), metadata: ["t"] }]);
  });
});

describe("etcd storage spec", () => {
  it("parses endpoints and a prefix", () => {
    expect(parseEtcdSpec("etcd://127.0.0.1:2379,127.0.0.2:2379/labs/physics")).toEqual({ endpoints: ["127.0.0.1:2379", "127.0.0.2:2379"], prefix: "/labs/physics" });
    expect(parseEtcdSpec("etcd://localhost")).toEqual({ endpoints: ["localhost:2379"], prefix: "/pyro-ts" });
    expect(parseEtcdSpec("etcd://[::1]:2380/a/")).toEqual({ endpoints: ["[::1]:2380"], prefix: "/a" });
  });

  it("refuses malformed specs with a NamingError that says what is expected", () => {
    for (const spec of ["etcd:/x", "etcd://", "etcd:///prefix", "etcd://h:99999/p", "etcd://h:1,,h:2/p", "etcd://h:1/a b", "etcd://h:1/../x", "sqlite:x", "etcd://h:1/p?q"]) {
      expect(() => parseEtcdSpec(spec), spec).toThrow(NamingError);
    }
    expect(() => parseEtcdSpec("etcd://")).toThrow(/etcd:\/\/host:port/);
  });
});
