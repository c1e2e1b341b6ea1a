import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { behavior, connect, expose, locateNs, SecurityError, Signal, startNameServer, writeKeyFiles } from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { forEachTransport } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pyro-ts-resilience-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

forEachTransport((use, transport) => {
  describe("resilience", () => {
    // Over TCP as over ZeroMQ: a liveness check that runs late (this process was blocked) counts
    // the silence as ours. (Across processes a blocked daemon sends no heartbeats over TCP,
    // unlike libzmq's I/O threads, so its clients drop it after heartbeatTimeout.)
    it("a daemon blocked longer than the heartbeat timeout keeps its clients' sessions", async () => {
      let created = 0;
      @expose
      @behavior({ instanceMode: "session" })
      class Counter {
        readonly serial = ++created;
        busy(ms: number): number {
          const until = Date.now() + ms;
          while (Date.now() < until); // a long synchronous instrument call
          return this.serial;
        }
      }
      const daemon = await use.daemon({ heartbeatInterval: 100, heartbeatTimeout: 400 });
      const proxy = await use.connect<Counter>(daemon.register(Counter), { heartbeatInterval: 100, heartbeatTimeout: 400 });
      const first = await proxy.busy(0);
      expect(await proxy.busy(1500)).toBe(first);
      expect(await proxy.busy(0)).toBe(first);
      expect(created).toBe(1);
    });

    it("a daemon answers each message of a batch within its own size limit", async () => {
      const daemon = await use.daemon({ maxMessageSize: 4096 });
      const proxy = await use.connect<Laser>(daemon.register(new Laser()));
      const text = "x".repeat(300);
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => proxy.echo(`${i}${text}`)));
      expect(results).toEqual(Array.from({ length: 40 }, (_, i) => `${i}${text}`));
    });

    it("refuses timeouts a timer cannot wait", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()));
      expect(() => {
        proxy.$timeout = 2 ** 31;
      }).toThrow(RangeError);
      expect(() => {
        proxy.$timeout = -Infinity;
      }).toThrow(RangeError);
      await expect(connect(daemon.uriFor(daemon.registered()[0]!), { timeout: 2 ** 40 })).rejects.toThrow(RangeError);
    });

    it("one Signal exposed under two names keeps both subscriptions of a connection", async () => {
      @expose
      class Aliased {
        readonly changed = new Signal<[n: number]>();
        readonly alsoChanged = this.changed;
      }
      const target = new Aliased();
      const daemon = await use.daemon();
      const proxy = await use.connect<Aliased>(daemon.register(target));
      const a: number[] = [];
      const b: number[] = [];
      const offA = await proxy.changed.connect((n) => void a.push(n));
      await proxy.alsoChanged.connect((n) => void b.push(n));
      target.changed.emit(1);
      await expect.poll(() => [a, b]).toEqual([[1], [1]]);
      await offA();
      target.changed.emit(2);
      await expect.poll(() => b).toEqual([1, 2]);
      expect(a).toEqual([1]);
    });

    // CURVE is ZeroMQ's: a daemon that encrypts with it serves over ZeroMQ only.
    if (transport === "zmq") {
      it("autoclean keeps the names of a live encrypting daemon, admitted or not", async () => {
        const nsKeys = writeKeyFiles(join(dir, "ns"));
        const daemonKeys = writeKeyFiles(join(dir, "daemon"));
        const clients = join(dir, "clients");
        mkdirSync(clients);
        const ns = await startNameServer({ port: 0, broadcast: false, autoclean: 1, autocleanGrace: 1, curve: { secretKeyFile: nsKeys.secretFile } });
        use.onCleanup(() => ns.close());
        // One daemon admits the nameserver's key, the other admits nobody.
        copyFileSync(nsKeys.publicFile, join(clients, "ns.pub"));
        const admitting = await use.daemon({ curve: { secretKeyFile: daemonKeys.secretFile, authorizedClients: clients } });
        const closed = join(dir, "nobody");
        mkdirSync(closed);
        const refusing = await use.daemon({ curve: { secretKeyFile: daemonKeys.secretFile, authorizedClients: closed } });
        ns.nameserver.register("lab.admitting", admitting.register(new Laser(), "laser"));
        ns.nameserver.register("lab.refusing", refusing.register(new Laser(), "laser"));
        ns.nameserver.register("lab.gone", admitting.uriFor("laser").replace(/^PYRO:laser/, "PYRO:missing"));
        await expect.poll(() => Object.keys(ns.nameserver.list()).sort(), { timeout: 10_000, interval: 250 }).toEqual(["lab.admitting", "lab.refusing", "pyro-ts.NameServer"]);
        await new Promise((resolve) => setTimeout(resolve, 2500)); // more sweeps: they stay
        expect(Object.keys(ns.nameserver.list()).sort()).toEqual(["lab.admitting", "lab.refusing", "pyro-ts.NameServer"]);
      });

      it("with nsKey, a broadcast answer from another nameserver cannot stand in for the real one", async () => {
        const real = writeKeyFiles(join(dir, "real"));
        const rogueKeys = writeKeyFiles(join(dir, "rogue"));
        const rogue = await startNameServer({ port: 0, bchost: "0.0.0.0", bcport: 0, curve: { secretKeyFile: rogueKeys.secretFile } });
        use.onCleanup(() => rogue.close());
        const nsKey = /public-key = "(.{40})"/.exec((await import("node:fs")).readFileSync(real.publicFile, "utf8"))![1]!;
        const attempt = locateNs({ port: 1, broadcast: ["127.255.255.255"], bcport: rogue.bcport!, nsKey, locateTimeout: 1000 });
        await expect(attempt).rejects.toThrow(SecurityError);
      });
    } else {
      it("autoclean pings a daemon over its URIs' transport: it keeps the names a live TCP daemon serves and removes the one it does not", async () => {
        const ns = await startNameServer({ port: 0, broadcast: false, autoclean: 1, autocleanGrace: 1 });
        use.onCleanup(() => ns.close());
        const daemon = await use.daemon();
        const uri = daemon.register(new Laser(), "laser");
        expect(uri).toMatch(/\?transport=tcp$/);
        ns.nameserver.register("lab.tcp", uri);
        ns.nameserver.register("lab.gone", uri.replace(/^PYRO:laser/, "PYRO:missing"));
        await expect.poll(() => Object.keys(ns.nameserver.list()).sort(), { timeout: 10_000, interval: 250 }).toEqual(["lab.tcp", "pyro-ts.NameServer"]);
        await new Promise((resolve) => setTimeout(resolve, 2500)); // more sweeps: it stays
        expect(Object.keys(ns.nameserver.list()).sort()).toEqual(["lab.tcp", "pyro-ts.NameServer"]);
      });
    }
  });
});
