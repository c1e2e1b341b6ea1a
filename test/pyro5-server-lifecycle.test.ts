/**
 * The daemon's rules for Pyro5 clients, from a raw Pyro5 peer: item streams (limits, idle
 * expiry, cleanup when the client goes), session and percall instances, locks, calls per
 * connection, and close() — calls in progress answered, the rest refused with DaemonError.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { behavior, callContext, connect, Daemon, type DaemonOptions, expose, lockable, oneway } from "../src/index.js";
import { Flag, MessageType } from "../src/pyro5/wire/constants.js";
import { RawPyro5Client } from "./pyro5-raw-client.js";

const events: string[] = [];

@expose
class Sensor {
  async *readings(count: number, signal?: AbortSignal): AsyncGenerator<string> {
    try {
      for (let i = 0; i < count; i++) {
        yield `${i}@${callContext()?.peerId ?? "?"}`;
        await sleep(1);
      }
    } finally {
      events.push(`finally aborted=${String(signal?.aborted)}`);
    }
  }

  async wait(ms: number): Promise<string> {
    await sleep(ms);
    return "waited";
  }

  text(length: number): string {
    return "x".repeat(length);
  }

  hang(): Promise<never> {
    return new Promise(() => {});
  }

  @oneway
  hangOneway(): Promise<never> {
    return new Promise(() => {});
  }
}

@expose
@behavior({ instanceMode: "session" })
class Session {
  static made = 0;
  readonly n = ++Session.made;

  which(): number {
    return this.n;
  }

  dispose(): void {
    events.push(`disposed ${this.n}`);
  }
}

@expose
@lockable
class Stage {
  move(): string {
    return "moved";
  }
}

const STREAM = "Pyro.Daemon";

describe("a daemon's rules for Pyro5 clients", () => {
  const opened: Array<{ close(): unknown }> = [];

  async function setup(options: DaemonOptions = {}) {
    events.length = 0;
    const reported: string[] = [];
    const daemon = new Daemon({ host: "127.0.0.1", port: 0, transport: "tcp", pyro5: { port: 0 }, onError: (error, context) => void reported.push(`${context}: ${String(error)}`), ...options });
    opened.push({ close: () => daemon.close() });
    await daemon.start();
    daemon.register(new Sensor(), "sensor");
    daemon.register(Session, "session");
    daemon.register(new Stage(), "stage");
    const client = async (object = "sensor"): Promise<RawPyro5Client> => {
      const peer = await RawPyro5Client.open(daemon.pyro5Location.port);
      opened.push({ close: () => peer.destroy() });
      expect((await peer.handshake(object)).type).toBe(MessageType.connectOk);
      return peer;
    };
    return { daemon, reported, client };
  }

  /**
   * Starts a stream; returns its id (the STRM annotation). `pull`: items pulled at once (a
   * generator never pulled has not begun, so it has no `finally` to run).
   */
  async function stream(peer: RawPyro5Client, count: number, pull = 0): Promise<string> {
    const { message, value } = await peer.invoke("sensor", "readings", [count]);
    expect(message.flags & (Flag.exception | Flag.itemStream)).toBe(Flag.exception | Flag.itemStream);
    expect(value).toMatchObject({ __class__: "Pyro5.errors.ProtocolError", args: ["result of call is an iterator"] });
    const id = message.annotations.get("STRM")!.toString();
    for (let i = 0; i < pull; i++) expect((await peer.invoke(STREAM, "get_next_stream_item", [id])).value).toMatch(new RegExp(`^${i}@`));
    return id;
  }

  afterEach(async () => {
    while (opened.length > 0) await opened.pop()!.close();
  });

  it("streams items in the call's context until StopIteration, and runs the generator's finally", async () => {
    const { client } = await setup();
    const peer = await client();
    const id = await stream(peer, 2);
    const first = await peer.invoke(STREAM, "get_next_stream_item", [id]);
    expect(first.value).toMatch(/^0@pyro5:\d+$/);
    expect((await peer.invoke(STREAM, "get_next_stream_item", [id])).value).toMatch(/^1@/);
    const end = await peer.invoke(STREAM, "get_next_stream_item", [id]);
    expect(end.exception).toBe(true);
    expect(end.value).toMatchObject({ __class__: "builtins.StopIteration", args: [] });
    expect(events).toEqual(["finally aborted=false"]);
    expect((await peer.invoke(STREAM, "get_next_stream_item", [id])).value).toMatchObject({ __class__: "Pyro5.errors.PyroError", args: ["item stream terminated"] });
  });

  it("holds at most maxStreamsPerConnection streams; close_stream (oneway) frees one and aborts its generator", async () => {
    const { client } = await setup({ maxStreamsPerConnection: 2 });
    const peer = await client();
    const first = await stream(peer, 100, 1);
    await stream(peer, 100);
    const refused = await peer.invoke("sensor", "readings", [100]);
    expect(refused.value).toMatchObject({ __class__: "Pyro5.errors.DaemonError", args: [expect.stringContaining("LimitExceededError")] });
    peer.send(peer.invokeMessage(STREAM, "close_stream", [first], { flags: Flag.oneway }));
    await expect.poll(() => events, { timeout: 3000 }).toEqual(["finally aborted=true"]);
    await stream(peer, 100);
    // Another connection has its own allowance.
    await stream(await client(), 100);
  });

  it("ends a stream not pulled for streamIdleTimeout", async () => {
    const { client } = await setup({ pyro5: { port: 0, streamIdleTimeout: 200 } });
    const peer = await client();
    const id = await stream(peer, 100);
    expect((await peer.invoke(STREAM, "get_next_stream_item", [id])).value).toMatch(/^0@/);
    await expect.poll(() => events, { timeout: 3000 }).toEqual(["finally aborted=true"]);
    expect((await peer.invoke(STREAM, "get_next_stream_item", [id])).value).toMatchObject({ args: ["item stream terminated"] });
  });

  it("when a client goes: its streams stop, its session instance is disposed, clientDisconnected is emitted", async () => {
    const { daemon, client } = await setup();
    const gone: string[] = [];
    daemon.clientDisconnected.connect((peerId) => void gone.push(peerId));
    const peer = await client("session");
    const n = (await peer.invoke("session", "which", [])).value;
    expect((await peer.invoke("session", "which", [])).value).toBe(n);
    await stream(peer, 100, 2);
    peer.destroy();
    await expect.poll(() => [...events].sort(), { timeout: 3000 }).toEqual([`disposed ${String(n)}`, "finally aborted=true"]);
    // The generator cleaned up before the instance was disposed.
    expect(events).toEqual(["finally aborted=true", `disposed ${String(n)}`]);
    expect(gone).toEqual([expect.stringMatching(/^pyro5:\d+$/)]);
    const other = await client("session");
    expect((await other.invoke("session", "which", [])).value).not.toBe(n);
  });

  it("a lockable object locked by a pyro-ts proxy refuses Pyro5 clients until it is unlocked", async () => {
    const { daemon, client } = await setup();
    const proxy = await connect<Stage>(daemon.uriFor("stage"));
    opened.push({ close: () => proxy.$close() });
    await proxy.$lock("the test");
    const peer = await client("stage");
    const refused = await peer.invoke("stage", "move", []);
    expect(refused.value).toMatchObject({ __class__: "Pyro5.errors.SecurityError", args: [expect.stringContaining("locked by the test")] });
    await proxy.$unlock();
    expect((await peer.invoke("stage", "move", [])).value).toBe("moved");
  });

  it("maxCallsPerConnection bounds oneway calls still running; the refused one goes to onError", async () => {
    const { client, reported } = await setup({ maxCallsPerConnection: 2, closeTimeout: 200 });
    const peer = await client();
    for (let i = 0; i < 3; i++) peer.send(peer.invokeMessage("sensor", "hangOneway", [], { flags: Flag.oneway }));
    await expect.poll(() => reported.some((line) => line.includes("LimitExceededError")), { timeout: 3000 }).toBe(true);
  });

  it("close() answers the call in progress, then ends the connection", async () => {
    const { daemon, client } = await setup();
    const peer = await client();
    peer.send(peer.invokeMessage("sensor", "wait", [300]));
    await sleep(50);
    const closing = daemon.close();
    const reply = await peer.next();
    expect(reply.payload.toString()).toBe('"waited"');
    expect(await peer.closesWithin()).toBe(true);
    await closing;
  });

  it("close() answers a call still running after closeTimeout with DaemonError, then ends the connection", async () => {
    const { daemon, client } = await setup({ closeTimeout: 300 });
    const peer = await client();
    const idle = await client();
    peer.send(peer.invokeMessage("sensor", "hang", []));
    const id = await stream(idle, 100, 1);
    await sleep(50);
    const started = Date.now();
    const closing = daemon.close();
    expect(await idle.closesWithin()).toBe(true);
    const reply = await peer.next(3000);
    expect(reply.flags & Flag.exception).toBe(Flag.exception);
    expect(reply.payload.toString()).toContain("the daemon was closed before the call finished");
    expect(await peer.closesWithin()).toBe(true);
    await closing;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(events).toContain("finally aborted=true");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("close() does not wait for a client that does not read its reply", async () => {
    const { daemon, client } = await setup({ closeTimeout: 200 });
    const peer = await client();
    peer.pause();
    peer.send(peer.invokeMessage("sensor", "text", [30 * 1024 * 1024]));
    await sleep(300);
    const started = Date.now();
    await daemon.close();
    expect(Date.now() - started).toBeLessThan(3000);
    // What it reads now is what was sent before the daemon cut it.
    peer.resume();
    expect(await peer.closesWithin()).toBe(true);
  });
});
