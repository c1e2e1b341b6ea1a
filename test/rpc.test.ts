import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  behavior,
  ConnectionClosedError,
  connect,
  Daemon,
  DAEMON_OBJECT_ID,
  DaemonError,
  expose,
  parseUri,
  registerError,
  RemoteError,
  TimeoutError,
  UnknownMemberError,
  callContext,
} from "../src/index.js";
import { Laser } from "./fixtures/laser.js";
import { forEachTransport, uriSuffix } from "./helpers.js";
import { freePort } from "./host-processes.js";

// Registered once for the file: each transport's suite runs against the same classes.
class InstrumentError extends Error {
  override name = "InstrumentError";
  constructor(message: string, readonly code: number) {
    super(message);
  }
}
registerError(InstrumentError);

@expose
class Faulty {
  fail(): never {
    throw new TypeError("outer", { cause: new Error("inner") });
  }
  async reject(): Promise<never> {
    throw new InstrumentError("overheated", 42);
  }
  throwString(): never {
    throw "just a string";
  }
}

forEachTransport((use, transport) => {
  describe("the issue's example", () => {
    it("calls methods, reads and writes attributes, sends oneway calls and rethrows remote errors", async () => {
      const daemon = await use.daemon();
      const laser = new Laser();
      const uri = daemon.register(laser, "laser");
      expect(uri).toBe(`PYRO:laser@127.0.0.1:${(daemon.location as { port: number }).port}${uriSuffix(transport)}`);
      const proxy = await use.connect<Laser>(uri);
      expect(await proxy.setPower(5)).toBe(5);
      expect(await proxy.power).toBe(5);
      await proxy.$set("power", 7);
      expect(await proxy.power).toBe(7);
      expect(await proxy.wavelength).toBe(1550);
      await proxy.blink(3);
      await expect.poll(() => laser.blinks).toBe(3);
      const error = await proxy.setPower(-1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).name).toBe("RangeError");
      expect((error as RemoteError).message).toBe("negative");
      expect((error as RemoteError).remoteStack).toContain("setPower");
    });

    if (transport === "zmq") {
      it("gives the URI before start(), with the port actually bound", async () => {
        const daemon = new Daemon({ host: "127.0.0.1", port: 0 });
        use.onCleanup(() => daemon.close());
        const uri = daemon.register(new Laser(), "laser");
        const parsed = parseUri(uri);
        expect(parsed.location).toMatchObject({ transport: "tcp", host: "127.0.0.1" });
        expect((parsed.location as { port: number }).port).toBeGreaterThan(0);
        await daemon.start();
        const proxy = await use.connect<Laser>(uri);
        expect(await proxy.echo("hi")).toBe("hi");
      });
    } else {
      // Node binds asynchronously: on port 0 the port (and so any URI) is known once started.
      it("gives the URI before start() when the port is given, and on port 0 once started (asked before, DaemonError)", async () => {
        const port = await freePort();
        const daemon = new Daemon({ host: "127.0.0.1", port, transport });
        use.onCleanup(() => daemon.close());
        const uri = daemon.register(new Laser(), "laser");
        expect(uri).toBe(`PYRO:laser@127.0.0.1:${port}?transport=tcp`);
        await daemon.start();
        const proxy = await use.connect<Laser>(uri);
        expect(await proxy.echo("hi")).toBe("hi");

        const anywhere = new Daemon({ host: "127.0.0.1", port: 0, transport });
        use.onCleanup(() => anywhere.close());
        expect(() => anywhere.location).toThrow(DaemonError);
        await anywhere.start();
        const late = anywhere.register(new Laser(), "laser");
        expect(parseUri(late).location).toMatchObject({ transport: "tcp", host: "127.0.0.1", port: (anywhere.location as { port: number }).port });
        expect((anywhere.location as { port: number }).port).toBeGreaterThan(0);
        expect(await (await use.connect<Laser>(late)).echo("late")).toBe("late");
      });
    }
  });

  describe("exposure", () => {
    it("fails locally on unknown or hidden members, naming what exists", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()));
      const hidden = proxy as unknown as Record<string, unknown>;
      expect(() => hidden._internal).toThrow(UnknownMemberError);
      expect(() => hidden.nope).toThrow(/no exposed member "nope".*setPower/);
      expect(() => hidden.constructor).toThrow(UnknownMemberError);
      expect(hidden.then).toBeUndefined();
      expect(await proxy.$meta()).toEqual({
        methods: ["blink", "echo", "setPower", "sleep"],
        attributes: ["power", "wavelength"],
        writable: ["power"],
        oneway: ["blink"],
        signals: ["powerChanged"],
      });
    });

    it("refuses to write attributes without a setter and plain assignment", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()));
      // @ts-expect-error wavelength has no setter
      await expect(proxy.$set("wavelength", 1)).rejects.toThrow(UnknownMemberError);
      expect(() => {
        (proxy as unknown as Record<string, unknown>).power = 3;
      }).toThrow(/\$set/);
    });

    it("exposes single members of a class that is not exposed as a whole", async () => {
      class Partly {
        @expose hello(): string {
          return "hello";
        }
        notExposed(): string {
          return "no";
        }
      }
      const daemon = await use.daemon();
      const proxy = await use.connect<Partly>(daemon.register(new Partly()));
      expect(await proxy.hello()).toBe("hello");
      expect((await proxy.$meta()).methods).toEqual(["hello"]);
    });

    it("refuses to register an object that exposes nothing", async () => {
      const daemon = await use.daemon();
      expect(() => daemon.register({ hello: () => "x" })).toThrow(DaemonError);
    });
  });

  describe("instance modes", () => {
    let created = 0;

    @expose
    @behavior({ instanceMode: "session" })
    class SessionCounter {
      readonly serial = ++created;
      #count = 0;
      increment(): number {
        return ++this.#count;
      }
      whoAmI(): number {
        return this.serial;
      }
    }

    @expose
    @behavior({ instanceMode: "single" })
    class SingleCounter {
      #count = 0;
      increment(): number {
        return ++this.#count;
      }
    }

    @expose
    @behavior({ instanceMode: "percall" })
    class PercallCounter {
      #count = 0;
      increment(): number {
        return ++this.#count;
      }
    }

    it("single: one instance for every client", async () => {
      const daemon = await use.daemon();
      const uri = daemon.register(SingleCounter);
      const a = await use.connect<SingleCounter>(uri);
      const b = await use.connect<SingleCounter>(uri, { maxMessageSize: 1 << 20 }); // its own connection
      expect(await a.increment()).toBe(1);
      expect(await b.increment()).toBe(2);
    });

    it("session: one instance per client connection", async () => {
      const daemon = await use.daemon();
      const uri = daemon.register(SessionCounter);
      const a = await use.connect<SessionCounter>(uri);
      const b = await use.connect<SessionCounter>(uri, { maxMessageSize: 1 << 20 }); // its own connection
      expect(await a.increment()).toBe(1);
      expect(await a.increment()).toBe(2);
      expect(await b.increment()).toBe(1);
      expect(await a.whoAmI()).not.toBe(await b.whoAmI());
    });

    it("session: the instance of a silent connection is dropped after the heartbeat timeout", async () => {
      let disposed = 0;
      @expose
      @behavior({ instanceMode: "session" })
      class Held {
        ping(): string {
          return "pong";
        }
        [Symbol.dispose](): void {
          disposed++;
        }
      }
      const daemon = await use.daemon({ heartbeatInterval: 100, heartbeatTimeout: 300 });
      const uri = daemon.register(Held);
      const proxy = await connect<Held>(uri, { heartbeatInterval: 100, heartbeatTimeout: 300 });
      expect(await proxy.ping()).toBe("pong");
      // While the proxy is open its heartbeats keep the session.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(disposed).toBe(0);
      await proxy.$close();
      await expect.poll(() => disposed, { timeout: 3000 }).toBe(1);
    });

    it("percall: a new instance for every call", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<PercallCounter>(daemon.register(PercallCounter));
      expect(await proxy.increment()).toBe(1);
      expect(await proxy.increment()).toBe(1);
    });
  });

  describe("errors", () => {
    it("keeps name, message, remote stack and cause", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Faulty>(daemon.register(new Faulty()));
      const error = (await proxy.fail().catch((e: unknown) => e)) as RemoteError;
      expect(error).toBeInstanceOf(RemoteError);
      expect(error.name).toBe("TypeError");
      expect(error.remoteStack).toMatch(/Faulty\.fail/);
      expect(error.cause).toBeInstanceOf(RemoteError);
      expect((error.cause as RemoteError).message).toBe("inner");
    });

    it("rebuilds a registered error class with its properties", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Faulty>(daemon.register(new Faulty()));
      const error = (await proxy.reject().catch((e: unknown) => e)) as InstrumentError;
      expect(error).toBeInstanceOf(InstrumentError);
      expect(error.message).toBe("overheated");
      expect(error.code).toBe(42);
    });

    it("turns a thrown non-Error into a RemoteError", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Faulty>(daemon.register(new Faulty()));
      await expect(proxy.throwString()).rejects.toMatchObject({ name: "Error", message: "just a string" });
    });

    it("rejects connect() to an unknown object id with a DaemonError", async () => {
      const daemon = await use.daemon();
      const uri = daemon.register(new Laser());
      await expect(connect(uri.replace(/^PYRO:[^@]+/, "PYRO:missing"))).rejects.toThrow(DaemonError);
    });
  });

  describe("calls", () => {
    it("matches 1,000 concurrent calls on one proxy to their own results", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()));
      const inputs = Array.from({ length: 1000 }, (_, i) => ({ i, s: `call-${i}` }));
      const results = await Promise.all(inputs.map((input) => proxy.echo(input)));
      expect(results).toEqual(inputs);
    });

    it("rejects a call past its timeout with TimeoutError and drops it", async () => {
      const daemon = await use.daemon();
      const proxy = await use.connect<Laser>(daemon.register(new Laser()), { timeout: 100 });
      const started = Date.now();
      await expect(proxy.sleep(1000)).rejects.toThrow(TimeoutError);
      expect(Date.now() - started).toBeLessThan(900);
      proxy.$timeout = 5000;
      expect(proxy.$timeout).toBe(5000);
      // The late reply of the dropped call must not be taken for this one's.
      expect(await proxy.sleep(1000)).toBe(1000);
      expect(() => {
        proxy.$timeout = -1;
      }).toThrow(RangeError);
    });

    it("rejects calls with ConnectionClosedError after $close", async () => {
      const daemon = await use.daemon();
      const proxy = await connect<Laser>(daemon.register(new Laser()));
      await proxy.$close();
      await expect(proxy.echo(1)).rejects.toThrow(ConnectionClosedError);
    });

    it("shares one connection between proxies to the same daemon", async () => {
      @expose
      class WhoCalls {
        peer(): string {
          return callContext()!.peerId;
        }
      }
      const daemon = await use.daemon();
      const a = await use.connect<WhoCalls>(daemon.register(new WhoCalls(), "a"));
      const b = await use.connect<WhoCalls>(daemon.register(new WhoCalls(), "b"));
      expect(await a.peer()).toBe(await b.peer());
      await a.$close();
      expect(await b.peer()).toBeTypeOf("string");
    });

    it("answers the built-in daemon object", async () => {
      const daemon = await use.daemon();
      daemon.register(new Laser(), "laser");
      interface DaemonApi {
        ping(): void;
        info(): string;
        registered(): string[];
      }
      const d = await use.connect<DaemonApi>(daemon.uriFor(DAEMON_OBJECT_ID));
      expect(await d.ping()).toBeUndefined();
      // Over TCP the info names the location without "?transport=tcp" (as it leaves out a CURVE key): either is accepted here.
      expect(await d.info()).toMatch(/pyro-ts daemon on PYRO:pyro-ts\.Daemon@127\.0\.0\.1:\d+(\?transport=tcp)?, 2 object/);
      expect((await d.registered()).sort()).toEqual(["laser", "pyro-ts.Daemon"]);
    });

    it("unregisters objects", async () => {
      const daemon = await use.daemon();
      const laser = new Laser();
      const uri = daemon.register(laser, "laser");
      const proxy = await use.connect<Laser>(uri);
      expect(daemon.unregister(laser)).toBe(true);
      expect(daemon.unregister("laser")).toBe(false);
      await expect(proxy.echo(1)).rejects.toThrow(/unknown object "laser"/);
      expect(() => daemon.uriFor("laser")).toThrow(DaemonError);
      expect(() => daemon.register(new Laser(), "bad id")).toThrow(/whitespace/);
    });

    it("close() finishes calls in progress and then refuses new ones", async () => {
      const daemon = new Daemon({ host: "127.0.0.1", port: 0, transport });
      use.onCleanup(() => daemon.close());
      // Over TCP a daemon on port 0 knows its URIs once started.
      if (transport === "tcp") await daemon.start();
      const uri = daemon.register(new Laser());
      if (transport === "zmq") await daemon.start();
      const proxy = await use.connect<Laser>(uri, { timeout: 3000 });
      const slow = proxy.sleep(300);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await daemon.close();
      expect(await slow).toBe(300);
    });
  });

  describe("transports", () => {
    it("serves over IPC", async () => {
      const path = join(mkdtempSync(join(tmpdir(), "pyro-ts-")), "daemon.sock");
      const daemon = await use.daemon({ ipc: path });
      const uri = daemon.register(new Laser(), "laser");
      expect(uri).toBe(`PYRO:laser@./u:${path}${uriSuffix(transport)}`);
      const proxy = await use.connect<Laser>(uri);
      expect(await proxy.setPower(2)).toBe(2);
    });

    it("serves over IPv6 loopback", async () => {
      const daemon = await use.daemon({ host: "::1" });
      const uri = daemon.register(new Laser(), "laser");
      expect(uri).toMatch(new RegExp(`^PYRO:laser@\\[::1\\]:\\d+${transport === "tcp" ? "\\?transport=tcp" : ""}$`));
      const proxy = await use.connect<Laser>(uri);
      expect(await proxy.echo("v6")).toBe("v6");
    });

    it("works again after the daemon comes back on the same endpoint", async () => {
      const first = new Daemon({ host: "127.0.0.1", port: 0, transport });
      use.onCleanup(() => first.close());
      if (transport === "tcp") await first.start();
      const uri = first.register(new Laser(), "laser");
      if (transport === "zmq") await first.start();
      const proxy = await use.connect<Laser>(uri, { timeout: 5000 });
      expect(await proxy.echo(1)).toBe(1);
      const slow = proxy.sleep(2000).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await first.close().catch(() => {});
      // A restart takes a moment; a call sent while the old connection is dying fails with ConnectionClosedError.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { port } = first.location as { port: number };
      const second = await use.daemon({ port });
      second.register(new Laser(), "laser");
      expect(await proxy.echo(2)).toBe(2);
      // The call that was in progress finished before close() returned.
      expect(await slow).toBe(2000);
    });
  });

  describe("percall instances", () => {
    it("are disposed after their call, and metadata does not create one each time", async () => {
      let created = 0;
      let disposed = 0;
      @expose
      @behavior({ instanceMode: "percall" })
      class Probe {
        constructor() {
          created++;
        }
        async ping(): Promise<string> {
          return "pong";
        }
        [Symbol.dispose](): void {
          disposed++;
        }
      }
      const daemon = await use.daemon();
      const uri = daemon.register(Probe);
      const a = await use.connect<Probe>(uri);
      const b = await use.connect<Probe>(uri, { maxMessageSize: 1 << 20 });
      expect(created).toBe(1); // the first metadata request learns the shape once
      expect(await a.ping()).toBe("pong");
      expect(await b.ping()).toBe("pong");
      expect(created).toBe(3);
      await expect.poll(() => disposed).toBe(3);
    });
  });

  describe("advertised host", () => {
    it("URIs never carry an unspecified address; advertisedHost sets the host clients use", async () => {
      const wildcard = await use.daemon({ host: "0.0.0.0" });
      const location = parseUri(wildcard.register(new Laser())).location as { host: string };
      expect(location.host).not.toBe("0.0.0.0");
      const nat = await use.daemon({ advertisedHost: "127.0.0.1" });
      const uri = nat.register(new Laser(), "laser");
      expect(uri).toMatch(new RegExp(`^PYRO:laser@127\\.0\\.0\\.1:\\d+${transport === "tcp" ? "\\?transport=tcp" : ""}$`));
      const proxy = await use.connect<Laser>(uri);
      expect(await proxy.echo("via the advertised host")).toBe("via the advertised host");
    });
  });

  describe("connecting to nothing", () => {
    it("fails at once with ConnectionClosedError, as Pyro does, instead of at the timeout", async () => {
      const daemon = await use.daemon();
      const { port } = daemon.location as { port: number };
      await daemon.close(); // the port is free now: nothing listens there
      const started = Date.now();
      const error = await connect(`PYRO:laser@127.0.0.1:${port}${uriSuffix(transport)}`, { timeout: 20_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect((error as Error).message).toMatch(/cannot connect to tcp:\/\/127\.0\.0\.1:\d+/);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });
});
