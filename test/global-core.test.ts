/**
 * Global discovery's pure pieces (src/global): the spec, the key layout under the
 * namespace, the view of every cluster's keys, the export plan and the import of other
 * clusters' names. No etcd: keys and events are made here. The bridge against a real etcd
 * is test/global-bridge.test.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { NamingError } from "../src/errors.js";
import type { EtcdKv } from "../src/etcd/etcd-view.js";
import type { NameRecord } from "../src/federation/name-record.js";
import { remoteOriginId } from "../src/federation/remote-origin.js";
import { GlobalLayout } from "../src/global/global-layout.js";
import { checkGlobalCluster, parseGlobalSpec } from "../src/global/global-spec.js";
import { GlobalView, type GlobalEntry } from "../src/global/global-view.js";
import { exportPlan } from "../src/global/lan-export.js";
import { remoteEntry, remoteListing } from "../src/global/remote-import.js";

const layout = new GlobalLayout("labs/");
const value = (uri: string, origin = "a".repeat(32), metadata: string[] = []): Buffer => Buffer.from(JSON.stringify({ uri, metadata, origin }));
let revision = 10;
const kv = (key: string, v: Buffer, lease = "1", create?: number): EtcdKv => {
  revision++;
  return { key: Buffer.from(key), value: v, modRevision: revision, createRevision: create ?? revision, lease };
};

describe("global spec", () => {
  it("takes etcd://host:port[,...]/prefix[?ttl=s], like --storage etcd://", () => {
    expect(parseGlobalSpec("etcd://10.0.0.5:2379/labs")).toEqual({ endpoints: ["10.0.0.5:2379"], prefix: "/labs", leaseTtl: 10 });
    expect(parseGlobalSpec("etcd://a,b:2380/x/y/?ttl=4")).toEqual({ endpoints: ["a:2379", "b:2380"], prefix: "/x/y", leaseTtl: 4 });
    expect(parseGlobalSpec("etcd://h").prefix).toBe("/pyro-ts");
    for (const bad of ["http://h/labs", "etcd:///labs", "etcd://h/la bs", "etcd://h/labs?ttl=1", "etcd://h/labs?x=1"]) expect(() => parseGlobalSpec(bad), bad).toThrow(NamingError);
  });

  it("a bridged cluster's name is one key segment", () => {
    expect(checkGlobalCluster("lab-1.a_b")).toBe("lab-1.a_b");
    for (const bad of ["a/b", "..", "", "with space", "é", "x".repeat(65)]) expect(() => checkGlobalCluster(bad), bad).toThrow(NamingError);
  });
});

describe("global layout and view", () => {
  it("parses names, leader keys, and ignores or skips the rest", () => {
    expect(layout.prefix).toBe("/labs");
    expect(layout.range.namesKey.toString()).toBe("/labs/");
    expect(layout.range.namesEnd.toString()).toBe("/labs0");
    expect(layout.parse(Buffer.from("/labs/one/names/lab.laser"))).toEqual({ kind: "name", cluster: "one", name: "lab.laser" });
    expect(layout.parse(Buffer.from("/labs/one/leader"))).toEqual({ kind: "leader", cluster: "one" });
    expect(layout.parse(Buffer.from("/labs/one/bridges/abc"))).toEqual({ kind: "other" });
    expect(layout.parse(Buffer.from("/labs/names/x"))).toEqual({ kind: "other" });
    expect(layout.parse(Buffer.from("/labs/one/names/bad name")).kind).toBe("invalid");
    expect(layout.parse(Buffer.from("/labs/one/names/pyro-ts.NameServer")).kind).toBe("invalid");
    expect(layout.parse(Buffer.from([...Buffer.from("/labs/"), 0xff, 0xfe])).kind).toBe("invalid");
    expect(layout.originOf("two")).toBe(remoteOriginId("/labs", "two"));
  });

  it("keeps every cluster's names from a listing and events, reports each change, and skips what is invalid", () => {
    const skipped: string[] = [];
    const view = new GlobalView(layout, (reason) => skipped.push(reason));
    const changes = view.load(
      [
        kv("/labs/one/names/a", value("PYRO:a@10.0.0.1:1")),
        kv("/labs/two/names/a", value("PYRO:a@10.0.1.1:1")),
        kv("/labs/two/leader", Buffer.from(JSON.stringify({ id: "b".repeat(32), endpoint: "10.0.1.1:9090" })), "7"),
        kv("/labs/two/names/bad", Buffer.from("not json")),
        kv("/labs/two/bridges/x", Buffer.from("{}")),
      ],
      revision,
    );
    expect(changes.map((c) => `${c.kind} ${c.cluster}${c.kind === "name" ? `/${c.name}` : ""}`).sort()).toEqual(["leader two", "name one/a", "name two/a"]);
    expect(view.clusters()).toEqual(["one", "two"]);
    expect(view.marker("two")).toMatchObject({ id: "b".repeat(32), lease: "7" });
    expect(skipped).toHaveLength(1);
    expect(view.skipped).toBe(1);

    const put = kv("/labs/two/names/b", value("PYRO:b@10.0.1.1:1"));
    const moved = kv("/labs/two/names/a", value("PYRO:a@10.0.1.1:1"), "9", 3);
    const applied = view.apply([{ type: "put", kv: put }, { type: "put", kv: moved }, { type: "delete", key: Buffer.from("/labs/one/names/a"), modRevision: ++revision }, { type: "delete", key: Buffer.from("/labs/two/leader"), modRevision: ++revision }]);
    expect(applied.map((c) => (c.kind === "name" ? `${c.cluster}/${c.name} ${c.entry ? c.entry.lease : "gone"}` : `leader ${c.cluster} ${c.marker ? "set" : "gone"}`))).toEqual(["two/b 1", "two/a 9", "one/a gone", "leader two gone"]);
    expect(view.clusters()).toEqual(["two"]);
    expect(view.names("two").get("a")).toMatchObject({ lease: "9", createRevision: 3 });
    // Events already seen change nothing.
    expect(view.apply([{ type: "put", kv: put }])).toEqual([]);
    // An unreadable value replacing a name removes it.
    expect(view.apply([{ type: "put", kv: kv("/labs/two/names/b", Buffer.from("{")) }]).map((c) => c.kind === "name" && c.entry)).toEqual([undefined]);
    // A listing after a compaction reports the differences only.
    const reload = view.load([kv("/labs/two/names/a", value("PYRO:a@10.0.1.1:1"), "9", 3)], revision);
    expect(reload.map((c) => c.kind === "name" && `${c.name} ${c.entry ? "set" : "gone"}`)).toEqual(["a set"]);
  });
});

describe("global export and import", () => {
  const record = (name: string, uri: string, origin = "a".repeat(32), metadata: string[] = []): NameRecord => ({ origin, version: 1, name, claim: 1, uri, metadata });
  const written = (name: string, uri: string, lease: string, origin = "a".repeat(32), metadata: string[] = []): [string, GlobalEntry] => [name, { record: { name, uri, metadata, origin }, createRevision: 5, modRevision: 6, lease }];

  it("plans puts for what is missing, different or on another lease, and deletes for what the cluster no longer holds", () => {
    const lan = [record("same", "PYRO:s@h:1"), record("moved", "PYRO:m@h:2"), record("new", "PYRO:n@h:1"), record("tagged", "PYRO:t@h:1", "a".repeat(32), ["x"]), record("oldlease", "PYRO:o@h:1")];
    const etcd = new Map([
      written("same", "PYRO:s@h:1", "L"),
      written("moved", "PYRO:m@h:1", "L"),
      written("tagged", "PYRO:t@h:1", "L"),
      written("oldlease", "PYRO:o@h:1", "OLD"),
      written("gone", "PYRO:g@h:1", "L"),
      written("gone2", "PYRO:g@h:1", "OLD"),
    ]);
    const plan = exportPlan(lan, etcd, "L");
    expect(plan.puts.map((p) => p.name)).toEqual(["moved", "new", "tagged", "oldlease"]);
    expect(plan.puts[2]).toEqual({ name: "tagged", uri: "PYRO:t@h:1", metadata: ["x"], origin: "a".repeat(32) });
    expect(plan.deletes).toEqual(["gone", "gone2"]);
    expect(exportPlan(lan, new Map(lan.map((r) => written(r.name, r.uri!, "L", r.origin, [...r.metadata]))), "L")).toEqual({ puts: [], deletes: [] });
  });

  it("imports only what every member would accept, with the key's create revision as its claim", () => {
    const entry = (uri: string, createRevision = 7): GlobalEntry => ({ record: { name: "x", uri, metadata: ["b", "a"], origin: "o" }, createRevision, modRevision: 9, lease: "1" });
    expect(remoteEntry("x", entry("PYRO:x@10.0.0.1:1"))).toEqual({ name: "x", uri: "PYRO:x@10.0.0.1:1", metadata: ["a", "b"], claim: 7 });
    expect(remoteEntry("x", entry("PYRO:x@10.0.0.1"))).toHaveProperty("invalid");
    expect(remoteEntry("x", entry(`PYRO:${"x".repeat(2100)}@10.0.0.1:1`))).toHaveProperty("invalid");
    expect(remoteEntry("x", entry("PYRO:x@10.0.0.1:1", 0))).toHaveProperty("invalid");

    const view = new GlobalView(layout);
    view.load([kv("/labs/one/names/a", value("PYRO:a@10.0.0.1:1")), kv("/labs/two/names/b", value("PYRO:b@10.0.1.1:1")), kv("/labs/two/names/c", value("PYRO:c@10.0.1.1"))], revision);
    const invalid: string[] = [];
    const listing = remoteListing(view, layout, "one", (reason) => invalid.push(reason));
    expect([...listing.keys()]).toEqual([remoteOriginId("/labs", "two")]);
    expect(listing.get(remoteOriginId("/labs", "two"))!.map((e) => e.name)).toEqual(["b"]);
    expect(invalid).toHaveLength(1);
  });
});

describe("layers", () => {
  it("global discovery sits below naming: nothing in src/global imports it", () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "src", "global");
    const offending = readdirSync(dir)
      .filter((file) => file.endsWith(".ts"))
      .flatMap((file) => [...readFileSync(join(dir, file), "utf8").matchAll(/from\s*["']([^"']+)["']/g)].map((m) => `${file}: ${m[1]}`))
      .filter((line) => line.includes("/naming/") || line.endsWith(": ../index.js"));
    expect(offending).toEqual([]);
  });
});
