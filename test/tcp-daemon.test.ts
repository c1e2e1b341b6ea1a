/**
 * Daemons and proxies over the TCP transport (`transport: "tcp"`): the URI says so and the
 * client follows it; calls, signals and streams as over ZeroMQ; a daemon killed and restarted
 * on its port. Real sockets on 127.0.0.1, the killed daemon in a child process.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConnectionClosedError, connect, Daemon, DaemonError, expose, lockable, LockedError, parseUri, Signal, TimeoutError } from "../src/index.js";
import type { Streams } from "./fixtures/stream-source.js";
import { resources } from "./helpers.js";
import { freePort, squat, until } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const use = resources();

@expose
class Laser {
  readonly changed = new Signal<[power: number]>();
  #power = 0;

  setPower(power: number): number {
    this.#power = power;
    this.changed.emit(power);
    return power;
  }

  get power(): number {
    return this.#power;
  }

  async *ramp(to: number): AsyncGenerator<number> {
    for (let p = 0; p <= to; p++) yield p;
  }
}

describe("the TCP transport under daemons and proxies", () => {
  it("serves calls, attributes, signals and streams; the URI names the transport and the proxy follows it", async () => {
    const daemon = await use.daemon({ transport: "tcp" });
    const uri = daemon.register(new Laser(), "laser");
    expect(parseUri(uri).transport).toBe("tcp");
    const laser = await use.connect<Laser>(uri);
    const seen: number[] = [];
    await laser.changed.connect((power) => void seen.push(power));
    expect(await laser.setPower(7)).toBe(7);
    expect(await laser.power).toBe(7);
    const ramp: number[] = [];
    for await (const p of laser.ramp(1000)) ramp.push(p);
    expect(ramp).toHaveLength(1001);
    await until(() => seen.length === 1, 2000);
    expect(seen).toEqual([7]);
    // The same port spoken to over ZeroMQ (a URI without the marker) gets nowhere.
    await expect(connect<Laser>(uri.replace("?transport=tcp", ""), { timeout: 500 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it("on port 0 knows its port once started; a taken port fails start()", async () => {
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, transport: "tcp" });
    use.onCleanup(() => daemon.close());
    expect(() => daemon.location).toThrow(DaemonError);
    await daemon.start();
    expect(daemon.location).toMatchObject({ transport: "tcp", host: "127.0.0.1" });
    const port = await freePort();
    const holder = await squat(port);
    use.onCleanup(() => holder.close());
    const late = new Daemon({ host: "127.0.0.1", port, transport: "tcp" });
    expect(daemon.uriFor("pyro-ts.Daemon")).toContain("?transport=tcp");
    await expect(late.start()).rejects.toBeInstanceOf(DaemonError);
  });

  it("tells a client gone at once (the connection closed), not after heartbeatTimeout", async () => {
    const daemon = await use.daemon({ transport: "tcp", heartbeatTimeout: 60_000 });
    const laser = await connect<Laser>(daemon.register(new Laser(), "laser"));
    const gone: string[] = [];
    daemon.clientDisconnected.connect((peer) => void gone.push(peer));
    await laser.$close();
    expect(await until(() => gone.length === 1, 2000)).toBe(true);
  });

  it("a daemon SIGKILLed mid-call: the call rejects with ConnectionClosedError; restarted on its port, the same proxy works again", async () => {
    const port = await freePort();
    const fixture = join("dist", "test", "fixtures", "stream-daemon.js");
    const start = async (name: string): Promise<{ child: NodeChild; uri: string }> => {
      const child = new NodeChild(name, fixture, [JSON.stringify({ port, transport: "tcp" })]);
      use.onCleanup(() => child.kill("SIGKILL"));
      return { child, uri: (JSON.parse(await child.line(0, 15_000)) as { uri: string }).uri };
    };
    const first = await start("daemon");
    const proxy = await use.connect<Streams>(first.uri, { timeout: 10_000 });
    expect(await proxy.ping()).toBe("pong");
    const pending = proxy.late("held", 5000);
    first.child.kill("SIGKILL");
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    await start("restarted");
    expect(await proxy.ping()).toBe("pong");
  }, 30_000);
});

@expose
@lockable
class Stage {
  position = 0;

  moveTo(position: number): number {
    this.position = position;
    return position;
  }
}

describe("a daemon listening over both transports", () => {
  it("serves ZeroMQ and TCP clients together, the same objects, each connection its own", async () => {
    const daemon = await use.daemon({ also: { transport: "tcp" } });
    const stage = new Stage();
    daemon.register(stage, "stage");
    const overZmq = daemon.uriFor("stage");
    const overTcp = daemon.uriFor("stage", "tcp");
    expect(parseUri(overZmq).transport).toBeUndefined();
    expect(parseUri(overTcp).transport).toBe("tcp");
    expect(parseUri(overTcp).location).not.toEqual(parseUri(overZmq).location);
    const a = await use.connect<Stage>(overZmq);
    const b = await use.connect<Stage>(overTcp);
    expect(await a.moveTo(1)).toBe(1);
    expect(await b.moveTo(2)).toBe(2);
    expect(stage.position).toBe(2);
    // Two connections, not one: the lock of the ZeroMQ proxy refuses the TCP one.
    await a.$lock();
    await expect(b.moveTo(3)).rejects.toBeInstanceOf(LockedError);
    await a.$unlock();
    expect(await b.moveTo(3)).toBe(3);
  });

  it("refuses a second listener of the same transport, and does not listen over a transport it was not given", async () => {
    await expect(use.daemon({ also: { transport: "zmq" } })).rejects.toThrow(RangeError);
    const daemon = await use.daemon({ transport: "tcp" });
    expect(() => daemon.uriFor("pyro-ts.Daemon", "zmq")).toThrow(DaemonError);
  });
});
