/** The NameServer API on each storage (memory, file, sqlite): register, lookup, list, remove, metadata, signals, and what it refuses. */
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { locateNs, lookup, NAMESERVER_NAME, type NameEntry, type NameServer, type Remote, type RunningNameServer } from "../src/index.js";
import { resources } from "./helpers.js";
import { nameserverHelpers, namingError, recorder, uriOf } from "./nameserver-helpers.js";

const use = resources();
const { tempDir, nameserver, nsProxy } = nameserverHelpers(use);

describe.each(["memory", "file", "sqlite"] as const)("the NameServer API on %s storage", (kind) => {
  let running: RunningNameServer;
  let address: string;
  let ns: Remote<NameServer>;

  beforeEach(async () => {
    const dir = tempDir();
    const storage = kind === "memory" ? "memory" : kind === "file" ? `file:${join(dir, "ns.journal")}` : `sqlite:${join(dir, "ns.db")}`;
    ({ running, address } = await nameserver({ storage }));
    ns = await nsProxy(address);
  });

  it("registers with metadata, replaces unless safe, and looks up with or without metadata", async () => {
    await ns.register("lab.laser", uriOf("laser"), { metadata: ["laser", "1550nm", "laser"] });
    expect(await ns.lookup("lab.laser")).toBe(uriOf("laser"));
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: uriOf("laser"), metadata: ["1550nm", "laser"] });

    // Not safe (the default): replaced, metadata and all; the URI is stored normalized.
    await ns.register("lab.laser", "pyro:laser2@127.0.0.1:5001");
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: "PYRO:laser2@127.0.0.1:5001", metadata: [] });
    await ns.register("lab.laser", uriOf("laser3"), { safe: false, metadata: ["third"] });
    expect(await ns.lookup("lab.laser")).toBe(uriOf("laser3"));

    // Safe: refused for a taken name, nothing changes.
    await namingError(ns.register("lab.laser", uriOf("intruder"), { safe: true, metadata: ["x"] }), /"lab\.laser" is already registered/);
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: uriOf("laser3"), metadata: ["third"] });
    await ns.register("lab.scope", uriOf("scope"), { safe: true, metadata: ["scope"] });
    expect(await ns.lookup("lab.scope", { returnMetadata: true })).toEqual({ uri: uriOf("scope"), metadata: ["scope"] });
    expect(await ns.count()).toBe(3);
  });

  it("unique registration never replaces: it takes the name, else name-2, name-3...", async () => {
    expect(await ns.register("lab.cam", uriOf("cam1"), { unique: true })).toBe("lab.cam");
    expect(await ns.register("lab.cam", uriOf("cam2"), { unique: true })).toBe("lab.cam-2");
    expect(await ns.register("lab.cam", uriOf("cam3"), { unique: true, metadata: ["third"] })).toBe("lab.cam-3");
    expect(await ns.list({ prefix: "lab.cam" })).toEqual({ "lab.cam": uriOf("cam1"), "lab.cam-2": uriOf("cam2"), "lab.cam-3": uriOf("cam3") });
    await ns.remove("lab.cam-2");
    expect(await ns.register("lab.cam", uriOf("cam4"), { unique: true })).toBe("lab.cam-2");
    // A plain registration still names exactly what it is given.
    expect(await ns.register("lab.cam", uriOf("cam5"))).toBe("lab.cam");
    expect(await ns.lookup("lab.cam")).toBe(uriOf("cam5"));
  });

  it("lists with prefix, regex, metadataAll, metadataAny and returnMetadata, ordered by name", async () => {
    const tags: Record<string, string[]> = {
      "lab.scope": ["scope", "ir"],
      "lab.laser2": ["laser", "uv"],
      "home.lamp": ["lamp"],
      "lab.laser": ["laser", "ir"],
      "lab2.x": [],
    };
    for (const [name, metadata] of Object.entries(tags)) await ns.register(name, uriOf(name), { metadata });

    const all = (await ns.list()) as Record<string, string>;
    expect(Object.keys(all)).toEqual(["home.lamp", "lab.laser", "lab.laser2", "lab.scope", "lab2.x", NAMESERVER_NAME]);
    expect(all[NAMESERVER_NAME]).toBe(running.uri);
    expect(all["lab.scope"]).toBe(uriOf("lab.scope"));

    expect(await ns.list({ prefix: "lab." })).toEqual({
      "lab.laser": uriOf("lab.laser"),
      "lab.laser2": uriOf("lab.laser2"),
      "lab.scope": uriOf("lab.scope"),
    });
    expect(Object.keys(await ns.list({ prefix: "lab.laser" }))).toEqual(["lab.laser", "lab.laser2"]);
    expect(Object.keys(await ns.list({ prefix: "lab" }))).toEqual(["lab.laser", "lab.laser2", "lab.scope", "lab2.x"]);
    expect(await ns.list({ prefix: "nothing" })).toEqual({});

    expect(Object.keys(await ns.list({ regex: "lab\\d?\\.l" }))).toEqual(["lab.laser", "lab.laser2"]);
    expect(Object.keys(await ns.list({ regex: "laser" }))).toEqual([]); // anchored at the start, as re.match
    expect(Object.keys(await ns.list({ regex: ".*laser" }))).toEqual(["lab.laser", "lab.laser2"]);
    expect(Object.keys(await ns.list({ regex: "lab\\.laser$" }))).toEqual(["lab.laser"]);

    expect(Object.keys(await ns.list({ metadataAll: ["laser", "ir"] }))).toEqual(["lab.laser"]);
    expect(Object.keys(await ns.list({ metadataAll: ["laser"] }))).toEqual(["lab.laser", "lab.laser2"]);
    expect(Object.keys(await ns.list({ metadataAny: ["uv", "lamp"] }))).toEqual(["home.lamp", "lab.laser2"]);
    expect(Object.keys(await ns.list({ metadataAny: ["nobody"] }))).toEqual([]);

    expect(await ns.list({ prefix: "lab.laser", returnMetadata: true })).toEqual({
      "lab.laser": { uri: uriOf("lab.laser"), metadata: ["ir", "laser"] },
      "lab.laser2": { uri: uriOf("lab.laser2"), metadata: ["laser", "uv"] },
    });
    expect(await ns.list({ prefix: "lab", regex: ".*\\.(laser|scope)$", metadataAny: ["ir", "lamp"], returnMetadata: true })).toEqual({
      "lab.laser": { uri: uriOf("lab.laser"), metadata: ["ir", "laser"] },
      "lab.scope": { uri: uriOf("lab.scope"), metadata: ["ir", "scope"] },
    });
    const entries = (await ns.list({ returnMetadata: true })) as Record<string, NameEntry>;
    expect(entries[NAMESERVER_NAME]).toEqual({ uri: running.uri, metadata: [] });
    expect(entries["lab2.x"]).toEqual({ uri: uriOf("lab2.x"), metadata: [] });
  });

  it("removes a name, a prefix or a regex and says how many went", async () => {
    for (const name of ["a.1", "a.2", "a.3", "b.1", "b.2", "c.x", "ab"]) await ns.register(name, uriOf(name));
    expect(await ns.remove("a.1")).toBe(1);
    expect(await ns.remove("a.1")).toBe(0);
    expect(await ns.remove("never.there")).toBe(0);
    expect(await ns.remove({ prefix: "a." })).toBe(2);
    expect(await ns.remove({ regex: "b\\.[12]$" })).toBe(2);
    expect(await ns.remove({ regex: "x" })).toBe(0); // anchored: c.x stays
    expect(await ns.remove({ prefix: "zzz" })).toBe(0);
    expect(Object.keys(await ns.list())).toEqual(["ab", "c.x", NAMESERVER_NAME]);
    expect(await ns.count()).toBe(3);
    await namingError(ns.remove({} as never), /remove needs a name, \{ prefix \} or \{ regex \}/);
    await namingError(ns.remove({ prefix: 5 } as never), /prefix must be a string/);
    await namingError(ns.remove(null as never), /remove needs a name/);
    expect(await ns.count()).toBe(3);
  });

  it("never removes or overwrites its own entry", async () => {
    await ns.register("pyro-ts.other", uriOf("other"));
    await ns.register("lab.laser", uriOf("laser"));
    await namingError(ns.register(NAMESERVER_NAME, uriOf("evil")), /pyro-ts\.NameServer is the nameserver's own name/);
    await namingError(ns.register(NAMESERVER_NAME, uriOf("evil"), { safe: true }), /nameserver's own name/);
    await namingError(ns.setMetadata(NAMESERVER_NAME, ["x"]), /nameserver's own name/);
    expect(await ns.remove(NAMESERVER_NAME)).toBe(0);
    expect(await ns.remove({ prefix: "pyro-ts" })).toBe(1); // only pyro-ts.other
    expect(await ns.remove({ regex: ".*" })).toBe(1); // only lab.laser
    expect(await ns.list({ returnMetadata: true })).toEqual({ [NAMESERVER_NAME]: { uri: running.uri, metadata: [] } });
    expect(await ns.lookup(NAMESERVER_NAME)).toBe(running.uri);
    expect(await ns.count()).toBe(1);
  });

  // Fixed bug, kept as a regression test: registerSelf() was exposed, so any client could
  // overwrite the nameserver's own entry. It is now `_registerSelf`, never remote.
  it("does not let a client overwrite its entry through _registerSelf", async () => {
    const raw = ns as unknown as Record<string, unknown>;
    expect(() => raw._registerSelf).toThrow(/no exposed member/);
    expect((await ns.$meta()).methods).not.toContain("_registerSelf");
    expect(await ns.lookup(NAMESERVER_NAME)).toBe(running.uri);
  });

  it("setMetadata replaces a name's tags, normalized, and refuses unknown names", async () => {
    await ns.register("lab.laser", uriOf("laser"), { metadata: ["old"] });
    await ns.setMetadata("lab.laser", ["b", "a", "b"]);
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: uriOf("laser"), metadata: ["a", "b"] });
    expect(await ns.list({ metadataAny: ["old"] })).toEqual({});
    expect(Object.keys(await ns.list({ metadataAll: ["a", "b"] }))).toEqual(["lab.laser"]);
    await ns.setMetadata("lab.laser", []);
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: uriOf("laser"), metadata: [] });
    await namingError(ns.setMetadata("lab.nope", ["x"]), /unknown name "lab\.nope"/);
    expect(await ns.count()).toBe(2);
  });

  it("counts its names (its own included) and answers ping", async () => {
    expect(await ns.count()).toBe(1);
    await ns.register("x.1", uriOf("x1"));
    await ns.register("x.2", uriOf("x2"));
    await ns.register("x.2", uriOf("x2b"));
    expect(await ns.count()).toBe(3);
    expect(await ns.ping()).toBeUndefined();
  });

  it("emits registered, removed and metadataChanged to connected slots", async () => {
    const registered = recorder<[string, string, string[]]>();
    const removed = recorder<[string, string]>();
    const metadataChanged = recorder<[string, string[]]>();
    await ns.registered.connect(registered.slot);
    await ns.removed.connect(removed.slot);
    await ns.metadataChanged.connect(metadataChanged.slot);

    // Changes made by another client.
    const other = await locateNs({ ns: address });
    use.onCleanup(() => other.$close());
    await other.register("sig.a", uriOf("a"), { metadata: ["y", "x", "y"] });
    await other.register("sig.b", uriOf("b"));
    await other.setMetadata("sig.a", ["z"]);
    expect(await other.remove({ prefix: "sig." })).toBe(2);

    expect(await registered.until(2)).toEqual([
      ["sig.a", uriOf("a"), ["x", "y"]],
      ["sig.b", uriOf("b"), []],
    ]);
    expect(await metadataChanged.until(1)).toEqual([["sig.a", ["z"]]]);
    expect([...(await removed.until(2))].sort()).toEqual([
      ["sig.a", uriOf("a")],
      ["sig.b", uriOf("b")],
    ]);

    // What fails or changes nothing emits nothing.
    await namingError(other.register("sig.c", "garbage"), /invalid URI/);
    await namingError(other.register("sig.c", uriOf("c")).then(() => other.register("sig.c", uriOf("c2"), { safe: true })), /already registered/);
    await namingError(other.setMetadata("sig.none", ["x"]), /unknown name/);
    expect(await other.remove("sig.none")).toBe(0);
    await other.register("sig.last", uriOf("last"));
    expect((await registered.until(4)).map(([name]) => name)).toEqual(["sig.a", "sig.b", "sig.c", "sig.last"]);
    expect(registered.events).toHaveLength(4);
    expect(removed.events).toHaveLength(2);
    expect(metadataChanged.events).toHaveLength(1);
  });

  it("rejects invalid names with a NamingError saying why", async () => {
    const cases: [unknown, RegExp][] = [
      ["", /name must be a non-empty string/],
      [42, /name must be a non-empty string/],
      ["has space", /name "has space" contains whitespace or one of @ \/ \\ \? # ,/],
      ["tab\tname", /contains whitespace/],
      ["a@b", /name "a@b" contains whitespace or one of/],
      ["a/b", /contains whitespace or one of/],
      ["a,b", /contains whitespace or one of/],
      ["a#b", /contains whitespace or one of/],
      ["x".repeat(257), /name is longer than 256 characters/],
    ];
    for (const [name, message] of cases) {
      const bad = name as string;
      await namingError(ns.register(bad, uriOf("x")), message);
      await namingError(ns.lookup(bad), message);
      await namingError(ns.remove(bad), typeof name === "string" ? message : /remove needs a name, \{ prefix \} or \{ regex \}/);
      await namingError(ns.setMetadata(bad, []), message);
    }
    await ns.register("x".repeat(256), uriOf("longest"));
    expect(await ns.lookup("x".repeat(256))).toBe(uriOf("longest"));
    expect(await ns.count()).toBe(2);
  });

  it("accepts only PYRO URIs with a location, with a NamingError saying why", async () => {
    const cases: [unknown, RegExp][] = [
      ["PYRONAME:lab.laser", /only PYRO: URIs with a location can be registered, not PYRONAME:lab\.laser/],
      ["PYRONAME:lab.laser@127.0.0.1:9090", /only PYRO: URIs with a location/],
      ["PYROMETA:laser,uv", /only PYRO: URIs with a location/],
      ["PYRONAME:", /invalid URI "PYRONAME:": object id is empty/],
      ["PYRO:obj", /invalid URI "PYRO:obj": location is missing/],
      ["garbage", /invalid URI "garbage": missing protocol/],
      ["", /invalid URI "": missing protocol/],
      ["HTTP:obj@127.0.0.1:80", /unknown protocol "HTTP"/],
      ["PYRO:obj@127.0.0.1:99999", /port 99999 is outside 1-65535/],
      ["PYRO:obj@127.0.0.1", /port is missing/],
      ["PYRO:obj@:5000", /host is empty/],
      ["PYRO:o b@127.0.0.1:5000", /contains whitespace/],
      [42, /uri must be a string/],
    ];
    for (const [uri, message] of cases) await namingError(ns.register("lab.x", uri as string), message);
    expect(await ns.count()).toBe(1);
  });

  it("rejects invalid metadata tags with a NamingError saying why", async () => {
    await ns.register("lab.x", uriOf("x"), { metadata: ["ok"] });
    const tooMany = Array.from({ length: 65 }, (_, i) => `t${i}`);
    const cases: [unknown, RegExp][] = [
      [["a,b"], /metadata tag "a,b" must be a non-empty string of at most 128 characters without commas/],
      [[""], /metadata tag "" must be a non-empty string/],
      [["x".repeat(129)], /must be a non-empty string of at most 128 characters/],
      [[42], /metadata tag 42 must be/],
      [tooMany, /at most 64 metadata tags are allowed/],
    ];
    for (const [metadata, message] of cases) {
      const bad = metadata as string[];
      await namingError(ns.register("lab.y", uriOf("y"), { metadata: bad }), message);
      await namingError(ns.setMetadata("lab.x", bad), message);
      await namingError(ns.list({ metadataAll: bad }), message);
      await namingError(ns.list({ metadataAny: bad }), message);
    }
    expect(await ns.list({ returnMetadata: true, prefix: "lab." })).toEqual({ "lab.x": { uri: uriOf("x"), metadata: ["ok"] } });
  });

  it("rejects invalid regexes with a NamingError saying why, and removes nothing", async () => {
    await ns.register("lab.laser", uriOf("laser"));
    const cases: [unknown, RegExp][] = [
      ["(", /invalid regex "\(": .*Unterminated group/],
      ["[abc", /invalid regex "\[abc": .*Unterminated character class/],
      ["(a)\\1", /invalid regex .*Cannot be executed in linear time/],
      ["(?=lab)l", /Cannot be executed in linear time/],
      ["x".repeat(513), /regex is longer than 512 characters/],
      [5, /regex must be a string/],
    ];
    for (const [regex, message] of cases) {
      await namingError(ns.list({ regex: regex as string }), message);
      await namingError(ns.remove({ regex: regex as string }), message);
    }
    expect(await ns.count()).toBe(2);
  });

  // Fixed bug, kept as a regression test: src/naming/safe-regex.ts:19 wraps the pattern as `^(?:${pattern})` without checking
  // the pattern alone first. An unbalanced pattern such as `x)|(?:laser` becomes valid and its
  // second alternative is no longer anchored, so it matches in the middle of names (Pyro's
  // re.match would reject it as invalid). Fix: compile `new RegExp(pattern, "l")` first.
  it("rejects an unbalanced regex instead of matching it unanchored", async () => {
    await ns.register("lab.laser", uriOf("laser"));
    await namingError(ns.list({ regex: "x)|(?:laser" }), /invalid regex/);
  });

  it("answers a catastrophic regex at once, in linear time", { timeout: 8000 }, async () => {
    ns.$timeout = 5000; // a stalled nameserver shows up as a TimeoutError, not a hung test
    const victim = `${"a".repeat(255)}!`;
    await ns.register(victim, uriOf("victim"));
    await ns.register("a".repeat(40), uriOf("plain"));
    expect(Object.keys(await ns.list({ regex: "(a+)+$" }))).toEqual(["a".repeat(40)]);
    expect(Object.keys(await ns.list({ regex: "(a|aa)+$" }))).toEqual(["a".repeat(40)]);
    expect(await ns.remove({ regex: "(a*)*b" })).toBe(0);
    expect(await ns.ping()).toBeUndefined();
    expect(await ns.count()).toBe(3);
  });

  it("fails a lookup of an unknown name with NamingError", async () => {
    await namingError(ns.lookup("lab.unknown"), /unknown name "lab\.unknown"/);
    await namingError(ns.lookup("lab.unknown", { returnMetadata: true }), /unknown name/);
    await namingError(lookup("lab.unknown", { ns: address }), /unknown name "lab\.unknown"/);
    await namingError(lookup("bad name", { ns: address }), /contains whitespace/);
  });
});
