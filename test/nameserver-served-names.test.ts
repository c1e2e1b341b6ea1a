/** Names of served objects: serve() and daemon.register() register them, connect() and lookup() resolve them, closing removes them. */
import { beforeEach, describe, expect, it } from "vitest";
import { connect, Daemon, DaemonError, lookup, NAMESERVER_NAME, NamingError, resolve, serve, startNameServer, type NameServer, type Remote, type RunningNameServer } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { resources } from "./helpers.js";
import { closedTcpPort, nameserverHelpers, namingError, recorder } from "./nameserver-helpers.js";

const use = resources();
const { nameserver, nsProxy } = nameserverHelpers(use);

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
