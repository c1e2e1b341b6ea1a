/**
 * pyro-ts as a client of the real Python Pyro5 (5.15, unpacked from ../shared/peers): a Python
 * nameserver and a Python daemon in child processes, on loopback. Needs python3 and dpkg-deb:
 * elsewhere the suite says why and skips, except under CI, where it must run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommunicationError, NamingError, RemoteError, TimeoutError, UnknownMemberError, pyro5 } from "../src/index.js";
import { mustRunPyro5, pyro5Unavailable, startPython, startPythonNameServer } from "./pyro5-python.js";

interface Stage {
  readonly position: number;
  speed: number;
  move_to(x: number): number;
  echo<V>(value: V): V;
  describe(value: unknown): [string, string];
  big(): unknown[];
  add(a: number, b: number): number;
  remember(value: unknown): void;
  remembered(): unknown[];
  scan(n: number): Generator<number>;
  home(): void;
  custom_error(): void;
  sleep(seconds: number): number;
  uri_of_self(): string;
  myself(): pyro5.Pyro5Remote<Stage>;
  tags(): string[];
  blob(size: number): Buffer;
}

const unavailable = pyro5Unavailable();

if (unavailable && mustRunPyro5) {
  it("runs against the real Pyro5 under CI", () => {
    throw new Error(`CI is set, so the Pyro5 client tests must run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)(`pyro-ts calling Python Pyro5${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let ns: Awaited<ReturnType<typeof startPythonNameServer>>;
  let daemon: Awaited<ReturnType<typeof startPython>>;
  let nameserver: pyro5.Pyro5NameServer;
  let stage: pyro5.Pyro5Remote<Stage>;

  beforeAll(async () => {
    ns = await startPythonNameServer();
    daemon = await startPython("lab_daemon.py", [ns.host, String(ns.port), "lab"]);
    nameserver = await pyro5.locateNs({ host: ns.host, port: ns.port });
    stage = await pyro5.lookup<Stage>("lab.stage", { ns: nameserver });
  }, 30_000);

  afterAll(async () => {
    await stage?.$close();
    await nameserver?.close();
    await daemon?.stop();
    await ns?.stop();
  });

  it("lists and looks names up in the Python nameserver with pyro-ts's API", async () => {
    const names = await nameserver.list({ prefix: "lab." });
    expect(Object.keys(names)).toEqual(["lab.stage"]);
    expect(names["lab.stage"]).toBe(daemon.ready);
    expect(await nameserver.lookup("lab.stage")).toBe(daemon.ready);
    expect(await nameserver.lookup("lab.stage", { returnMetadata: true })).toEqual({ uri: daemon.ready, metadata: ["kind:stage", "lab"] });
    expect(await nameserver.list({ regex: "lab\\..*", returnMetadata: true })).toEqual({ "lab.stage": { uri: daemon.ready, metadata: ["kind:stage", "lab"] } });
    expect(Object.keys(await nameserver.list({ metadataAll: ["lab", "kind:stage"] }))).toEqual(["lab.stage"]);
    expect(await nameserver.list({ metadataAny: ["nothing"] })).toEqual({});
    await expect(nameserver.lookup("lab.nothing")).rejects.toThrow(/unknown name: lab.nothing/);
    await expect(nameserver.lookup("lab.nothing")).rejects.toBeInstanceOf(RemoteError);
  });

  it("registers, tags, counts and removes names", async () => {
    const before = await nameserver.count();
    await nameserver.register("test.one", daemon.ready, { metadata: ["x"] });
    await nameserver.register("test.two", daemon.ready);
    await expect(nameserver.register("test.one", daemon.ready, { safe: true })).rejects.toThrow(/already registered/);
    expect(await nameserver.count()).toBe(before + 2);
    await nameserver.setMetadata("test.two", ["y", "z"]);
    expect(await nameserver.yplookup({ metaAny: ["x", "z"] })).toEqual({
      "test.one": { uri: daemon.ready, metadata: ["x"] },
      "test.two": { uri: daemon.ready, metadata: ["y", "z"] },
    });
    expect(await nameserver.remove("test.one")).toBe(1);
    expect(await nameserver.remove({ prefix: "test." })).toBe(1);
    expect(await nameserver.count()).toBe(before);
    await nameserver.ping();
  });

  it("calls methods, reads and writes attributes, and rejects unknown members locally", async () => {
    expect(await stage.move_to(12.5)).toBe(12.5);
    expect(await stage.position).toBe(12.5);
    await stage.$set("speed", 7);
    expect(await stage.speed).toBe(7);
    expect(() => (stage as unknown as { moveTo: unknown }).moveTo).toThrow(UnknownMemberError);
    expect(stage.$uri).toBe(daemon.ready);
    expect((await stage.$meta()).oneway).toEqual(["remember"]);
  });

  it("sends oneway calls without waiting, in order with later calls", async () => {
    expect(await stage.remember("a")).toBeUndefined();
    await stage.remember("b");
    // Oneway calls run in a thread of their own on the Python side: wait until both arrived.
    for (let i = 0; i < 50 && (await stage.remembered()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await stage.remembered()).sort()).toEqual(["a", "b"]);
  });

  it("iterates a Python generator as a stream, and stops it early", async () => {
    const items: number[] = [];
    for await (const item of stage.scan(5)) items.push(item);
    expect(items).toEqual([0, 1, 4, 9, 16]);
    const early: number[] = [];
    for await (const item of stage.scan(1000)) {
      early.push(item);
      if (early.length === 3) break;
    }
    expect(early).toEqual([0, 1, 4]);
    const stream = await stage.scan(2);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    await stream.close();
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("rejects with the Python exception: its type, message and traceback", async () => {
    const error = await stage.home().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toBeInstanceOf(pyro5.PythonError);
    const python = error as pyro5.PythonError;
    expect(python.pythonType).toBe("builtins.ValueError");
    expect(python.name).toBe("ValueError");
    expect(python.message).toBe("not homed");
    expect(python.remoteStack).toMatch(/Traceback[\s\S]*ValueError: not homed/);
    const naming = (await stage.custom_error().catch((e: unknown) => e)) as pyro5.PythonError;
    expect(naming.pythonType).toBe("Pyro5.errors.NamingError");
  });

  it("carries Python's numbers exactly: NaN, infinities, integers beyond 2^53", async () => {
    const [huge, negative, nan, inf, ninf, half, three] = await stage.big();
    expect(huge).toBe(2n ** 70n);
    expect(negative).toBe(-(2n ** 64n));
    expect(nan).toBeNaN();
    expect([inf, ninf, half, three]).toEqual([Infinity, -Infinity, 1.5, 3]);
    expect(await stage.describe(2n ** 70n)).toEqual(["int", String(2n ** 70n)]);
    expect(await stage.describe(NaN)).toEqual(["float", "nan"]);
    expect(await stage.describe("héllo ✓")).toEqual(["str", "'héllo ✓'"]);
    expect(await stage.echo({ nested: [1, null, true, { deep: "x" }] })).toEqual({ nested: [1, null, true, { deep: "x" }] });
  });

  it("turns returned URIs into strings and returned objects into proxies", async () => {
    expect(await stage.uri_of_self()).toBe(daemon.ready);
    const again = await stage.myself();
    try {
      expect(again.$uri).toBe(daemon.ready);
      expect(await again.add(2, 3)).toBe(5);
    } finally {
      await again.$close();
    }
  });

  it("runs concurrent calls over a pool of connections and batches calls in one message", async () => {
    const sums = await Promise.all(Array.from({ length: 40 }, (_, i) => stage.add(i, 1)));
    expect(sums).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await stage.$batch([["add", 1, 2], ["move_to", 3], ["echo", "x"]])).toEqual([3, 3, "x"]);
    const failed = await stage.$batch([["add", 1, 2], ["home"], ["move_to", 99]]).catch((e: unknown) => e);
    expect((failed as pyro5.PythonError).pythonType).toBe("builtins.ValueError");
    expect(await stage.position).toBe(3);
  });

  it("shares one connection between a stream's item requests and calls queued behind them, in order", async () => {
    const single = await pyro5.connect<Stage>(daemon.ready, { maxConnections: 1 });
    try {
      const items: number[] = [];
      const sums: Promise<number>[] = [];
      for await (const item of single.scan(4)) {
        items.push(item);
        // Queued while the stream's next request waits for the same (only) connection.
        sums.push(single.add(item, 1), single.add(item, 2));
      }
      expect(items).toEqual([0, 1, 4, 9]);
      expect(await Promise.all(sums)).toEqual([1, 2, 2, 3, 5, 6, 10, 11]);
      expect(await Promise.all(Array.from({ length: 200 }, (_, i) => single.add(i, 0)))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await single.$close();
    }
  });

  it("sends bytes and sets with the serpent serializer, and refuses bytes over json", async () => {
    const serpent = await pyro5.connect<Stage>(daemon.ready, { serializer: "serpent" });
    try {
      expect(await serpent.blob(2)).toEqual(Buffer.from([0, 1, 255, 0, 1, 255]));
      expect(await serpent.describe(Buffer.from("hi"))).toEqual(["dict", "{'data': 'aGk=', 'encoding': 'base64'}"]);
      expect(await serpent.tags()).toEqual(new Set(["a", "b"]));
      expect(await serpent.add(2, 3)).toBe(5);
    } finally {
      await serpent.$close();
    }
    await expect(stage.echo(Buffer.from("x"))).rejects.toThrow(/serpent/);
  });

  it("times a slow call out, and the proxy works again afterwards", async () => {
    const impatient = await pyro5.connect<Stage>(daemon.ready, { timeout: 200 });
    try {
      await expect(impatient.sleep(1)).rejects.toBeInstanceOf(TimeoutError);
      expect(await impatient.add(1, 1)).toBe(2);
    } finally {
      await impatient.$close();
    }
  });

  it("fails clearly for an unknown object and an absent nameserver", async () => {
    const unknown = daemon.ready.replace("stage.lab", "nothing.here");
    await expect(pyro5.connect(unknown)).rejects.toThrow(CommunicationError);
    await expect(pyro5.connect(unknown)).rejects.toThrow(/rejected: unknown object/);
    await expect(pyro5.locateNs({ host: "127.0.0.1", port: 1, connectTimeout: 1000 })).rejects.toBeInstanceOf(NamingError);
    await expect(stage.$close().then(() => stage.add(1, 1))).rejects.toThrow(/closed/);
    stage = await pyro5.lookup<Stage>("lab.stage", { ns: nameserver });
  });

  it("finds a Python nameserver by Pyro5's GET_NSURI broadcast when no host is given", async () => {
    const responder = await startPython("ns_with_broadcast.py", []);
    try {
      const [uri, bcport] = responder.ready.split(" ");
      // Port 1: nothing answers on this host, so the broadcast is what finds it.
      const found = await pyro5.locateNs({ port: 1, broadcast: ["127.0.0.1"], bcport: Number(bcport), connectTimeout: 1000 });
      try {
        expect(found.uri).toBe(uri);
        await found.ping();
      } finally {
        await found.close();
      }
      await expect(pyro5.locateNs({ port: 1, broadcast: false, connectTimeout: 1000 })).rejects.toThrow(/no Pyro5 nameserver found/);
    } finally {
      await responder.stop();
    }
  });

  it("asks the daemon object", async () => {
    const daemonObject = await pyro5.connectDaemon(daemon.ready);
    try {
      expect(await daemonObject.ping()).toBeNull();
      expect(await daemonObject.registered()).toEqual(expect.arrayContaining(["Pyro.Daemon", "stage.lab"]));
      expect(await daemonObject.info()).toMatch(/Pyro/);
    } finally {
      await daemonObject.$close();
    }
  });
});
