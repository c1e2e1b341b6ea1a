import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import {
  connect,
  Daemon,
  DaemonError,
  discoverNsUri,
  locateNs,
  lookup,
  NAMESERVER_NAME,
  NamingError,
  resolve,
  serve,
  startNameServer,
  type NameEntry,
  type NameServer,
  type NameServerOptions,
  type Remote,
  type RunningNameServer,
  type TcpLocation,
} from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";

const use = resources();

// Network rule: everything stays on loopback. Nameservers bind 127.0.0.1 and answer
// discovery on a loopback address only; every client is told where the nameserver is.

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pyro-ts-ns-"));
  use.onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const portOf = (running: RunningNameServer): number => (running.daemon.location as TcpLocation).port;

/** A nameserver on free ports, closed after the test. */
async function nameserver(options: NameServerOptions = {}): Promise<{ running: RunningNameServer; address: string }> {
  const running = await startNameServer({ port: 0, bcport: 0, bchost: "127.0.0.1", ...options });
  use.onCleanup(() => running.close());
  return { running, address: `127.0.0.1:${portOf(running)}` };
}

async function nsProxy(address: string): Promise<Remote<NameServer>> {
  const ns = await locateNs({ ns: address });
  use.onCleanup(() => ns.$close());
  return ns;
}

/** The error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

async function namingError(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(NamingError);
  expect(error.message).toMatch(message);
}

/** Records the emissions reaching a slot; `until(n)` waits (bounded) for the n-th one. */
function recorder<A extends unknown[]>() {
  const events: A[] = [];
  const wakeups = new Set<() => void>();
  return {
    events,
    slot: (...args: A): void => {
      events.push(args);
      for (const wake of wakeups) wake();
    },
    async until(count: number, timeoutMs = 5000): Promise<A[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${count} emission(s) within ${timeoutMs} ms, got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer);
            wakeups.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          wakeups.add(wake);
        });
      }
      return events.slice(0, count);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function closedTcpPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

const uriOf = (id: string, port = 5000): string => `PYRO:${id}@127.0.0.1:${port}`;

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

describe("names of served objects", () => {
  let running: RunningNameServer;
  let address: string;
  let ns: Remote<NameServer>;

  beforeEach(async () => {
    ({ running, address } = await nameserver());
    ns = await nsProxy(address);
  });

  it("serve() registers objects under their names with metadata; lookup() reaches them; closing removes the names", async () => {
    const laser = new Laser();
    const daemon = await serve({ "lab.laser": laser }, { metadata: { "lab.laser": ["laser", "1550nm"] }, ns: address });
    use.onCleanup(() => daemon.close());
    expect(await ns.lookup("lab.laser", { returnMetadata: true })).toEqual({ uri: daemon.uriFor("lab.laser"), metadata: ["1550nm", "laser"] });

    const proxy = await lookup<Laser>("lab.laser", { ns: address });
    use.onCleanup(() => proxy.$close());
    expect(proxy.$uri).toBe(daemon.uriFor("lab.laser"));
    expect(await proxy.setPower(3)).toBe(3);
    expect(laser.power).toBe(3);
    expect(await proxy.wavelength).toBe(1550);

    await daemon.close();
    await namingError(ns.lookup("lab.laser"), /unknown name/);
    expect(await ns.count()).toBe(1);
  });

  it("serve() fails cleanly on an invalid name or when no nameserver answers", async () => {
    await namingError(serve({ "bad name": new Laser() }, { ns: address }), /contains whitespace/);
    const nowhere = `127.0.0.1:${await closedTcpPort()}`;
    await namingError(serve({ "lab.laser": new Laser() }, { ns: { ns: nowhere, locateTimeout: 300 } }), /no nameserver answers at 127\.0\.0\.1:\d+/);
    expect(await ns.count()).toBe(1);
  });

  it("daemon.register(obj, { name, metadata }) registers before start() (at start) and after it (at once)", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, ns: address });
    use.onCleanup(() => daemon.close());
    const earlyUri = daemon.register(new Laser(), { name: "lab.early", metadata: ["early", "laser"] });
    expect(running.nameserver.count()).toBe(1); // not before the daemon starts
    await daemon.start();
    expect(await ns.lookup("lab.early", { returnMetadata: true })).toEqual({ uri: earlyUri, metadata: ["early", "laser"] });

    const registered = recorder<[string, string, string[]]>();
    const removed = recorder<[string, string]>();
    await ns.registered.connect(registered.slot);
    await ns.removed.connect(removed.slot);
    const late = new Laser();
    const lateUri = daemon.register(late, { name: "lab.late", metadata: ["late"] });
    expect(await registered.until(1)).toEqual([["lab.late", lateUri, ["late"]]]);
    const proxy = await lookup<Laser>("lab.late", { ns: address });
    use.onCleanup(() => proxy.$close());
    expect(await proxy.echo("late")).toBe("late");

    expect(() => daemon.register(new Laser(), { name: "lab.early" })).toThrow(DaemonError);
    expect(() => daemon.register(new Laser(), { name: "bad name" })).toThrow(NamingError);
    expect(() => daemon.register(new Laser(), { name: "lab.tags", metadata: ["a,b"] })).toThrow(NamingError);

    expect(daemon.unregister(late)).toBe(true);
    expect(await removed.until(1)).toEqual([["lab.late", lateUri]]);
    await daemon.close();
    expect(await removed.until(2)).toEqual([
      ["lab.late", lateUri],
      ["lab.early", earlyUri],
    ]);
    expect(await ns.list()).toEqual({ [NAMESERVER_NAME]: running.uri });
  });

  // Fixed bug, kept as a regression test: src/daemon/daemon.ts:171 starts the NameKeeper only if it exists at start(); on a
  // daemon that had no named object then, register(obj, { name }) creates the keeper later
  // (daemon.ts:149) in state "idle", and NameKeeper.add (name-keeper.ts:37) only records the
  // name: it is never registered, contrary to "or at once if it runs". Fix: when the daemon
  // is running, start the keeper from register() (guarding against concurrent starts).
  it("daemon.register(obj, { name }) after start() on a daemon started without names", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, ns: address });
    use.onCleanup(() => daemon.close());
    await daemon.start();
    const uri = daemon.register(new Laser(), { name: "lab.late" });
    await expect.poll(() => (running.nameserver.list() as Record<string, string>)["lab.late"], { timeout: 3000 }).toBe(uri);
  });

  it("connect() resolves PYRONAME and PYROMETA URIs through the nameserver", async () => {
    const daemon = await serve(
      { "lab.laser": new Laser(), "lab.laser2": new Laser(), "lab.other": new Laser() },
      { metadata: { "lab.laser": ["laser", "1550nm"], "lab.laser2": ["laser", "1550nm", "spare"], "lab.other": ["laser"] }, ns: address },
    );
    use.onCleanup(() => daemon.close());

    const byName = await connect<Laser>(`PYRONAME:lab.laser@${address}`);
    use.onCleanup(() => byName.$close());
    expect(byName.$uri).toBe(daemon.uriFor("lab.laser"));
    expect(await byName.wavelength).toBe(1550);

    const byTags = await connect<Laser>(`PYROMETA:1550nm,spare@${address}`);
    use.onCleanup(() => byTags.$close());
    expect(byTags.$uri).toBe(daemon.uriFor("lab.laser2"));
    expect(await byTags.echo("meta")).toBe("meta");

    const anyOf = await connect<Laser>(`PYROMETA:laser,1550nm@${address}`);
    use.onCleanup(() => anyOf.$close());
    expect([daemon.uriFor("lab.laser"), daemon.uriFor("lab.laser2")]).toContain(anyOf.$uri);

    expect(await resolve(`PYRONAME:lab.other@${address}`)).toBe(daemon.uriFor("lab.other"));
    expect(await resolve(daemon.uriFor("lab.other"))).toBe(daemon.uriFor("lab.other"));
    await namingError(connect(`PYROMETA:laser,uv@${address}`), /no registration carries all of laser,uv/);
    await namingError(connect(`PYRONAME:lab.nothing@${address}`), /unknown name "lab\.nothing"/);
    await namingError(connect(`PYRONAME:lab.laser@127.0.0.1:notaport`), /port "notaport" is not a number/);
  });

  it("lookup() with wait resolves when the name is registered later", async () => {
    const daemon = await use.daemon();
    const uri = daemon.register(new Laser(), "late-laser");
    const other = await nsProxy(address);
    const timer = setTimeout(() => void other.register("lab.late", uri).catch(() => {}), 200);
    use.onCleanup(async () => clearTimeout(timer));
    const started = Date.now();
    const proxy = await lookup<Laser>("lab.late", { ns: address, wait: 2000 });
    use.onCleanup(() => proxy.$close());
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(proxy.$uri).toBe(uri);
    expect(await proxy.echo("late")).toBe("late");
    expect(running.nameserver.registered.listenerCount).toBe(0); // the wait unsubscribed
  });

  it("lookup() with wait rejects with NamingError when the name never comes", async () => {
    const started = Date.now();
    await namingError(lookup("lab.never", { ns: address, wait: 500 }), /"lab\.never" was not registered within 500 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(running.nameserver.registered.listenerCount).toBe(0);
    // An already registered name does not wait at all.
    const daemon = await use.daemon();
    const uri = daemon.register(new Laser(), "here");
    await ns.register("lab.here", uri);
    const proxy = await lookup<Laser>("lab.here", { ns: address, wait: 60_000 });
    use.onCleanup(() => proxy.$close());
    expect(proxy.$uri).toBe(uri);
  });
});

describe("autoclean", () => {
  it("removes the names of a daemon that went away without unregistering, emitting removed", { timeout: 20_000 }, async () => {
    const { address } = await nameserver({ autoclean: 1, autocleanGrace: 1 });
    const ns = await nsProxy(address);
    const removed = recorder<[string, string]>();
    await ns.removed.connect(removed.slot);

    const daemon = new Daemon({ host: "127.0.0.1", port: 0 });
    use.onCleanup(() => daemon.close());
    await daemon.start();
    const uri = daemon.register(new Laser(), "laser");
    await ns.register("lab.gone", uri, { metadata: ["laser"] });
    await daemon.close(); // its name stays behind: the daemon never knew it

    expect(await removed.until(1, 15_000)).toEqual([["lab.gone", uri]]);
    await namingError(ns.lookup("lab.gone"), /unknown name/);
    expect(await ns.count()).toBe(1);
  });

  it("removes an object unregistered from a live daemon and keeps the live ones", { timeout: 20_000 }, async () => {
    const { address } = await nameserver({ autoclean: 1, autocleanGrace: 1 });
    const ns = await nsProxy(address);
    const removed = recorder<[string, string]>();
    await ns.removed.connect(removed.slot);

    const daemon = await use.daemon();
    const keptUri = daemon.register(new Laser(), "kept");
    const droppedUri = daemon.register(new Laser(), "dropped");
    await ns.register("lab.kept", keptUri);
    await ns.register("lab.dropped", droppedUri);
    expect(daemon.unregister("dropped")).toBe(true);

    expect(await removed.until(1, 15_000)).toEqual([["lab.dropped", droppedUri]]);
    // lab.kept went through the same sweeps; give it two more sweeps past the grace.
    await sleep(2500);
    expect(await ns.lookup("lab.kept")).toBe(keptUri);
    expect(removed.events).toHaveLength(1);
  });
});

describe("nameserver restart", () => {
  it("gets a running daemon's names back by themselves when a memory nameserver restarts on the same port", { timeout: 25_000 }, async () => {
    const first = await startNameServer({ port: 0, bcport: 0, bchost: "127.0.0.1" });
    use.onCleanup(() => first.close());
    const port = portOf(first);
    const address = `127.0.0.1:${port}`;

    const daemon = new Daemon({ host: "127.0.0.1", port: 0, ns: address });
    use.onCleanup(() => daemon.close());
    const laserUri = daemon.register(new Laser(), { name: "lab.laser", metadata: ["laser"] });
    const spareUri = daemon.register(new Laser(), { name: "lab.spare" });
    await daemon.start();
    const expected = (nsUri: string) => ({
      "lab.laser": { uri: laserUri, metadata: ["laser"] },
      "lab.spare": { uri: spareUri, metadata: [] },
      [NAMESERVER_NAME]: { uri: nsUri, metadata: [] },
    });
    expect(first.nameserver.list({ returnMetadata: true })).toEqual(expected(first.uri));

    await first.close();
    const second = await startNameServer({ port, bcport: 0, bchost: "127.0.0.1" });
    use.onCleanup(() => second.close());
    expect(second.uri).toBe(first.uri);
    await expect.poll(() => second.nameserver.list({ returnMetadata: true }), { timeout: 10_000, interval: 100 }).toEqual(expected(second.uri));

    const proxy = await lookup<Laser>("lab.laser", { ns: address, locateTimeout: 5000 });
    use.onCleanup(() => proxy.$close());
    expect(await proxy.echo("back")).toBe("back");
    await daemon.close();
    expect(second.nameserver.count()).toBe(1);
  });
});

describe.each(["file", "sqlite"] as const)("a nameserver on %s storage", (kind) => {
  it("keeps its names and metadata across a restart, with its own entry renewed", async () => {
    const dir = tempDir();
    const storage = `${kind}:${join(dir, kind === "file" ? "ns.journal" : "ns.db")}`;
    const first = await nameserver({ storage });
    const ns1 = await nsProxy(first.address);
    await ns1.register("lab.laser", uriOf("laser"), { metadata: ["laser"] });
    await ns1.register("lab.gone", uriOf("gone"));
    await ns1.setMetadata("lab.laser", ["laser", "1550nm"]);
    expect(await ns1.remove("lab.gone")).toBe(1);
    await ns1.$close();
    await first.running.close();

    const second = await nameserver({ storage });
    const ns2 = await nsProxy(second.address);
    expect(await ns2.list({ returnMetadata: true })).toEqual({
      "lab.laser": { uri: uriOf("laser"), metadata: ["1550nm", "laser"] },
      [NAMESERVER_NAME]: { uri: second.running.uri, metadata: [] },
    });
  });
});

describe("nameserver discovery on loopback", () => {
  async function silentUdpPort(): Promise<{ socket: Socket; port: number }> {
    const socket = createSocket("udp4");
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    use.onCleanup(async () => {
      const closed = once(socket, "close");
      socket.close();
      await closed;
    });
    return { socket, port: socket.address().port };
  }

  it("locateNs finds the nameserver by broadcast when nothing answers on the port", async () => {
    // The responder binds the loopback broadcast address: it hears 127.255.255.255 only.
    const { running } = await nameserver({ bchost: "127.255.255.255" });
    expect(await discoverNsUri(["127.255.255.255"], running.bcport!, 1000)).toBe(running.uri);

    const closed = await closedTcpPort();
    const ns = await locateNs({ port: closed, broadcast: ["127.255.255.255"], bcport: running.bcport!, locateTimeout: 500 });
    use.onCleanup(() => ns.$close());
    expect(ns.$uri).toBe(running.uri);
    expect(await ns.count()).toBe(1);
  });

  it("the responder ignores datagrams other than GET_NSURI", async () => {
    const { running } = await nameserver();
    const { socket } = await silentUdpPort();
    const answers: string[] = [];
    socket.on("message", (message) => answers.push(message.toString()));
    socket.send("HELLO", running.bcport!, "127.0.0.1");
    socket.send("GET_NSURI", running.bcport!, "127.0.0.1");
    await expect.poll(() => answers, { timeout: 3000 }).toEqual([running.uri]);
    await sleep(200);
    expect(answers).toEqual([running.uri]);
  });

  it("discoverNsUri returns undefined when nobody answers, and locateNs says what it tried", async () => {
    const { port } = await silentUdpPort();
    expect(await discoverNsUri(["127.255.255.255"], port, 500)).toBeUndefined();
    expect(await discoverNsUri([], port, 500)).toBeUndefined();

    const closed = await closedTcpPort();
    await namingError(
      locateNs({ port: closed, broadcast: ["127.255.255.255"], bcport: port, locateTimeout: 300 }),
      new RegExp(`no nameserver found \\(tried 127\\.0\\.0\\.1:${closed}; broadcast to 127\\.255\\.255\\.255 on UDP ${port}\\)`),
    );
    await namingError(locateNs({ port: closed, broadcast: false, locateTimeout: 300 }), new RegExp(`no nameserver found \\(tried 127\\.0\\.0\\.1:${closed}\\)`));
    await namingError(locateNs({ ns: "not a host:port" }), /invalid nameserver address "not a host:port"/);
  });
});

describe("a daemon replaced under its name", () => {
  it("does not remove the name its replacement registered when it closes", async () => {
    const ns = await startNameServer({ port: 0, broadcast: false });
    try {
      const address = ns.uri.split("@")[1]!;
      const old = await serve({ "lab.laser": new Laser() }, { ns: address });
      const replacement = await serve({ "lab.laser": new Laser() }, { ns: address });
      expect(ns.nameserver.lookup("lab.laser")).toBe(replacement.uriFor("lab.laser"));
      await old.close();
      expect(ns.nameserver.lookup("lab.laser")).toBe(replacement.uriFor("lab.laser"));
      await replacement.close();
      expect(() => ns.nameserver.lookup("lab.laser")).toThrow(NamingError);
      expect(ns.nameserver.remove("x.y", { ifUri: "PYRO:a@127.0.0.1:1" })).toBe(0);
    } finally {
      await ns.close();
    }
  });
});
