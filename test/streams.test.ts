/**
 * Remote iterators (docs/protocol.md, Streams) with the daemon and proxies in this process,
 * over real sockets on 127.0.0.1, once per transport (ZeroMQ, TCP): order, flow control,
 * early ends, errors, limits, and a raw client sending stream messages the daemon must refuse
 * or ignore.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec/values.js";
import { encodeMessage } from "../src/protocol/frames.js";
import {
  behavior,
  DaemonError,
  endpointOf,
  expose,
  LimitExceededError,
  MessageTooLargeError,
  RemoteError,
  RemoteStream,
  TimeoutError,
  type DaemonOptions,
} from "../src/index.js";
import { StreamFault, Streams } from "./fixtures/stream-source.js";
import { collect, drain, header, itemValues, RawPeer } from "./fixtures/stream-tools.js";
import { frames } from "./garbage/wire.js";
import { forEachTransport } from "./helpers.js";

const MiB = 1024 * 1024;
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

forEachTransport((use, transport) => {
  /** A daemon serving a fresh Streams as "streams", and one proxy to it. */
  async function setup(options: DaemonOptions = {}) {
    const daemon = await use.daemon(options);
    const source = new Streams();
    const uri = daemon.register(source, "streams");
    const proxy = await use.connect<Streams>(uri, { timeout: 10_000 });
    return { daemon, source, uri, proxy };
  }

  describe("streams: delivery", () => {
    it("a stream of 100,000 items arrives complete and in order", async () => {
      const { proxy } = await setup();
      let next = 0;
      let outOfOrder = 0;
      for await (const n of proxy.count(100_000)) if (n !== next++) outOfOrder++;
      expect(next).toBe(100_000);
      expect(outOfOrder).toBe(0);
    }, 30_000);

    it("streams a sync generator, an async method's async iterable (awaited or iterated directly) and a Node Readable; an array stays a value", async () => {
      const { proxy } = await setup();
      expect(await collect(proxy.count(0))).toEqual([]);
      expect(await collect(proxy.sync(4))).toEqual(["s0", "s1", "s2", "s3"]);
      const awaited = await proxy.feed(4);
      expect(awaited).toBeInstanceOf(RemoteStream);
      expect(await collect(awaited)).toEqual([0, 10, 20, 30]);
      expect(await collect(proxy.feed(3))).toEqual([0, 10, 20]);
      expect(await collect(proxy.readable(["a", "b", "c"]))).toEqual(["a", "b", "c"]);
      expect(await proxy.list(3)).toEqual([0, 1, 2]);
      // Iterating a call that returned a value says so.
      const { error } = await drain(proxy.list(3) as unknown as AsyncIterable<number>);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/returned a value, not a stream/);
    }, 15_000);

    it("binary items (Buffer, Float64Array, Uint8Array), 1 MiB ones too, arrive intact and as their type", async () => {
      const { proxy } = await setup();
      const [hello, small, bytes, bigBuffer, bigFloats, bigBytes] = await collect(proxy.binary());
      expect(Buffer.isBuffer(hello) && hello.toString()).toBe("hello");
      expect(small).toBeInstanceOf(Float64Array);
      expect(Array.from(small as Float64Array)).toEqual([1.5, -2, Math.PI]);
      expect(bytes!.constructor).toBe(Uint8Array);
      expect(Array.from(bytes as Uint8Array)).toEqual([0, 1, 254, 255]);
      expect(Buffer.isBuffer(bigBuffer)).toBe(true);
      expect((bigBuffer as Buffer).equals(Buffer.alloc(MiB, 0xab))).toBe(true);
      const floats = new Float64Array(MiB / 8).map((_, i) => i / 3);
      expect(bigFloats).toBeInstanceOf(Float64Array);
      expect(Buffer.from((bigFloats as Float64Array).buffer, bigFloats!.byteOffset, bigFloats!.byteLength).equals(Buffer.from(floats.buffer))).toBe(true);
      expect(bigBytes!.constructor).toBe(Uint8Array);
      expect(Buffer.from(bigBytes as Uint8Array).equals(Buffer.from(new Uint8Array(MiB).map((_, i) => (i * 7) % 256)))).toBe(true);
    }, 15_000);

    it("20 concurrent streams on one connection (one proxy, and several sharing it) all complete, interleaved", async () => {
      const { uri, proxy, source } = await setup();
      const proxies = [proxy, ...(await Promise.all(range(3).map(() => use.connect<Streams>(uri, { timeout: 10_000 }))))];
      const N = 3000;
      const arrivals: number[] = [];
      const results = await Promise.all(range(20).map(async (i) => {
        const items: string[] = [];
        // Half iterate the call, half await the RemoteStream first.
        const call = proxies[i % proxies.length]!.labelled(`t${i}`, N);
        for await (const item of i % 2 === 0 ? call : await call) {
          items.push(item);
          arrivals.push(i);
        }
        return items;
      }));
      for (const [i, items] of results.entries()) expect(items).toEqual(range(N).map((k) => `t${i}:${k}`));
      expect(source.peers.size).toBe(1);
      let switches = 0;
      for (let k = 1; k < arrivals.length; k++) if (arrivals[k] !== arrivals[k - 1]) switches++;
      // A window (1024) is less than a stream: none can finish before the others start.
      expect(switches).toBeGreaterThan(40);
    }, 30_000);
  });

  describe("streams: ending early", () => {
    it.each([8, 128])("break after 10 items stops the generator within one credit window (streamWindow %i)", async (window) => {
      const { source, proxy } = await setup({ streamWindow: window });
      const items: unknown[] = [];
      for await (const n of proxy.ticks("brk", 1_000_000, 0, 0)) {
        items.push(n);
        if (items.length === 10) break;
      }
      expect(items).toEqual(range(10));
      await expect.poll(() => source.tracks.get("brk")?.finished, { timeout: 5000 }).toBe(true);
      const t = source.tracks.get("brk")!;
      expect(t).toMatchObject({ aborted: true, contextSame: true, contextAborted: true });
      expect(t.reason).toMatch(/^AbortError/);
      expect(t.produced).toBeLessThanOrEqual(10 + window + 1);
      // Nothing pulls it any more.
      await sleep(100);
      expect(source.tracks.get("brk")!.produced).toBe(t.produced);

      // An exception out of the loop, and close() on an awaited RemoteStream, do the same.
      await drain(proxy.ticks("brk2", 1_000_000, 0, 0), (_, i) => {
        if (i === 9) throw new Error("enough");
      });
      const stream = await proxy.ticks("closed", 1_000_000, 0, 0);
      expect(await stream.next()).toEqual({ done: false, value: 0 });
      await stream.close();
      expect(await stream.next()).toEqual({ done: true, value: undefined });
      for (const key of ["brk2", "closed"]) {
        await expect.poll(() => source.tracks.get(key)?.finished, { timeout: 5000 }).toBe(true);
        expect(source.tracks.get(key)).toMatchObject({ aborted: true, contextAborted: true });
        expect(source.tracks.get(key)!.produced).toBeLessThanOrEqual(10 + window + 1);
      }
    }, 20_000);

    it("a sync generator's finally, run when the client breaks off, sees callContext().signal aborted", async () => {
      const { source, proxy } = await setup();
      for await (const n of proxy.counted("sync-ctx")) if (n === 2) break;
      await expect.poll(() => source.tracks.get("sync-ctx")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("sync-ctx")!.contextAborted).toBe(true);
    }, 10_000);

    it("waiting longer than $timeout for an item fails with TimeoutError and stops the generator", async () => {
      const { source, proxy } = await setup();
      proxy.$timeout = 200;
      const { items, error } = await drain(proxy.ticks("slow", 5, 1000, 0));
      expect(items).toEqual([0]);
      expect(error).toBeInstanceOf(TimeoutError);
      await expect.poll(() => source.tracks.get("slow")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("slow")).toMatchObject({ aborted: true, contextAborted: true });
      expect(source.tracks.get("slow")!.produced).toBeLessThan(5);
    }, 15_000);

    it("$close() of the proxy during a stream ends it on the daemon (by cancel, long before any heartbeat timeout)", async () => {
      const { source, proxy } = await setup({ heartbeatTimeout: 60_000 });
      let closing: Promise<void> | undefined;
      const { items, error } = await drain(proxy.ticks("pc", 1_000_000, 0, 0), (_, i) => {
        if (i === 4) closing = proxy.$close();
      });
      await closing;
      expect(error).toBeUndefined();
      expect(items.length).toBeGreaterThanOrEqual(5);
      await expect.poll(() => source.tracks.get("pc")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("pc")).toMatchObject({ aborted: true, contextAborted: true });
    }, 15_000);

    it("daemon.close() during a stream fails the for-await with DaemonError after the generator's finally ran", async () => {
      const { daemon, source, proxy } = await setup();
      let closed: Promise<void> | undefined;
      const { items, error } = await drain(proxy.hold("dc", 2), (_, i) => {
        if (i === 1) closed = daemon.close();
      });
      expect(items).toEqual([0, 1]);
      expect(error).toBeInstanceOf(DaemonError);
      expect((error as Error).message).toMatch(/closed/);
      await closed;
      expect(source.tracks.get("dc")).toMatchObject({ finished: true, aborted: true });
    }, 15_000);
  });

  describe("streams: errors and limits", () => {
    it("a generator that throws: the items before arrive, then the for-await rejects with the error", async () => {
      const { proxy } = await setup();
      const { items, error } = await drain(proxy.failing(5, "too hot: 451 K"));
      expect(items).toEqual(range(5));
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject({ name: "RangeError", message: "too hot: 451 K" });
      expect((error as RemoteError).remoteStack).toContain("failing");

      const faulty = await drain(proxy.faulty());
      expect(faulty.items).toEqual([1]);
      expect(faulty.error).toBeInstanceOf(StreamFault);
      expect(faulty.error).toMatchObject({ message: "stage jammed", code: 42 });
    }, 15_000);

    it("an item too large to send fails the stream with MessageTooLargeError and stops the generator", async () => {
      const { source, proxy } = await setup({ maxMessageSize: MiB });
      const { items, error } = await drain(proxy.ticks("huge", 5, 0, 2 * MiB));
      expect(items).toEqual([]);
      expect(error).toBeInstanceOf(MessageTooLargeError);
      await expect.poll(() => source.tracks.get("huge")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("huge")).toMatchObject({ produced: 1, aborted: true });
      expect(await collect(proxy.count(3))).toEqual([0, 1, 2]);
    }, 10_000);

    it("maxStreamsPerConnection: one stream more is refused with LimitExceededError and its generator never starts; after one closes a new one opens", async () => {
      const { source, proxy } = await setup({ maxStreamsPerConnection: 3 });
      const open = await Promise.all(range(3).map((i) => proxy.hold(`h${i}`, 1)));
      for (const stream of open) expect(await stream.next()).toEqual({ done: false, value: 0 });
      await expect(proxy.hold("h3", 1)).rejects.toBeInstanceOf(LimitExceededError);
      const iterated = await drain(proxy.hold("h3b", 1));
      expect(iterated.error).toBeInstanceOf(LimitExceededError);
      expect(source.tracks.has("h3")).toBe(false);
      expect(source.tracks.has("h3b")).toBe(false);

      await open[0]!.close();
      await expect.poll(() => source.tracks.get("h0")?.finished, { timeout: 3000 }).toBe(true);
      const again = await proxy.hold("h4", 1);
      expect(await again.next()).toEqual({ done: false, value: 0 });
      for (const stream of [...open, again]) await stream.close();
      await expect.poll(() => ["h1", "h2", "h4"].every((k) => source.tracks.get(k)?.finished), { timeout: 3000 }).toBe(true);
    }, 15_000);

    it("a slow consumer holds the generator back: it never runs more than the byte window ahead", async () => {
      const windowBytes = 4 * MiB;
      const { source, proxy } = await setup({ streamWindowBytes: windowBytes });
      const bound = Math.floor(windowBytes / MiB) + 1;
      let maxAhead = 0;
      const { items, error } = await drain(proxy.ticks("sc", 24, 0, MiB), async (item, i) => {
        expect((item as Buffer).length).toBe(MiB);
        expect((item as Buffer)[MiB - 1]).toBe(i);
        await sleep(25);
        maxAhead = Math.max(maxAhead, source.tracks.get("sc")!.produced - (i + 1));
      });
      expect(error).toBeUndefined();
      expect(items).toHaveLength(24);
      expect(maxAhead).toBeLessThanOrEqual(bound);
      // It did run ahead: items are pushed, not fetched one by one.
      expect(maxAhead).toBeGreaterThanOrEqual(2);
    }, 20_000);
  });

  describe("streams: oneway and late streams", () => {
    it("a @oneway generator method is never started", async () => {
      const { source, proxy } = await setup();
      expect(await proxy.fire("ow")).toBeUndefined();
      // Calls on one connection are served in order: once ping answers, fire was served.
      expect(await proxy.ping()).toBe("pong");
      await sleep(100);
      expect(source.tracks.has("ow")).toBe(false);
    }, 10_000);

    it("a stream that starts after its call timed out is cancelled on the daemon", async () => {
      // A window shorter than the stream (1000 items), so it waits for the client's credit.
      const { source, proxy } = await setup({ streamWindow: 128 });
      proxy.$timeout = 200;
      await expect(proxy.late("late", 600)).rejects.toBeInstanceOf(TimeoutError);
      await expect.poll(() => source.tracks.get("late")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("late")).toMatchObject({ contextAborted: true });
      expect(source.tracks.get("late")!.produced).toBeLessThanOrEqual(128 + 1);
      proxy.$timeout = 5000;
      expect(await collect(proxy.count(3))).toEqual([0, 1, 2]);
    }, 15_000);
  });

  describe("streams: garbage on the wire", () => {
    it("credit and cancel for unknown ids are ignored, malformed ones get ProtocolError, the window holds exactly, and other clients keep streaming", async () => {
      const { daemon, source, proxy } = await setup({ streamWindow: 8 });
      const raw = new RawPeer(endpointOf(daemon.location), transport);
      use.onCleanup(async () => raw.close());

      // Unknown ids: nothing happens, nothing is answered (the ping's result comes next).
      await raw.send(encodeMessage({ kind: "credit", id: 999, items: 5 }));
      await raw.send(encodeMessage({ kind: "cancel", id: 998 }));
      await raw.call(1, "streams", "ping", []);
      expect(await raw.next()).toMatchObject({ kind: "result", id: 1 });

      const badCredits = ["[-1]", "[0]", '["5"]', "[4294967296]", "[1e300]", "[1.5]", "[null]", "[]", "[1,2]", "{}", "not json"];
      for (const [i, body] of badCredits.entries()) {
        await raw.send(frames(header("credit", 100 + i), body));
        expect(await raw.errorName(100 + i)).toBe("ProtocolError");
      }
      await raw.send(frames(header("credit", 200, 1), "[1]", Buffer.from("x")));
      expect(await raw.errorName(200)).toBe("ProtocolError");
      await raw.send(frames(header("cancel", 201, 1), "[]", Buffer.from("x")));
      expect(await raw.errorName(201)).toBe("ProtocolError");
      await raw.send(frames(header("cancel", 202), "[1]"));
      expect(await raw.errorName(202)).toBe("ProtocolError");
      // Daemon-to-client kinds are refused.
      await raw.send(encodeMessage({ kind: "item", id: 203, value: encodeValue(1) }));
      expect(await raw.errorName(203)).toBe("DaemonError");

      // A real stream that the raw peer credits by hand: exactly the window, then exactly what is granted.
      await raw.call(7, "streams", "ticks", ["raw", 1_000_000, 0, 0]);
      expect(await raw.next()).toMatchObject({ kind: "stream", id: 7, window: 8 });
      expect(itemValues(await raw.take(8))).toEqual(range(8));
      expect(await raw.next(300)).toBeUndefined();
      await raw.send(encodeMessage({ kind: "credit", id: 7, items: 3 }));
      expect(itemValues(await raw.take(3))).toEqual(range(3, 8));
      expect(await raw.next(300)).toBeUndefined();
      // More credit than items outstanding grants only those.
      await raw.send(encodeMessage({ kind: "credit", id: 7, items: 0xffff_ffff }));
      expect(itemValues(await raw.take(8))).toEqual(range(8, 11));
      expect(await raw.next(300)).toBeUndefined();
      // Its id cannot open another stream while it runs; that generator never starts.
      await raw.call(7, "streams", "ticks", ["raw-dup", 10, 0, 0]);
      expect(await raw.errorName(7)).toBe("ProtocolError");
      expect(source.tracks.has("raw-dup")).toBe(false);
      // A malformed cancel leaves the stream alone; a good one ends it without a word.
      await raw.send(frames(header("cancel", 7, 1), "[]", Buffer.from("x")));
      expect(await raw.errorName(7)).toBe("ProtocolError");
      expect(source.tracks.get("raw")!.finished).toBe(false);
      await raw.send(encodeMessage({ kind: "cancel", id: 7 }));
      await expect.poll(() => source.tracks.get("raw")?.finished, { timeout: 3000 }).toBe(true);
      expect(source.tracks.get("raw")).toMatchObject({ aborted: true, produced: 19 });
      await raw.send(encodeMessage({ kind: "credit", id: 7, items: 8 }));
      expect(await raw.next(300)).toBeUndefined();

      // The well-behaved proxy never noticed.
      expect(await collect(proxy.count(500))).toEqual(range(500));
      await raw.call(8, "streams", "ping", []);
      expect(await raw.next()).toMatchObject({ kind: "result", id: 8 });
    }, 20_000);
  });

  // ---------------------------------------------------------------------------------------
  // Session instances: a generator must clean up before the instance it uses is disposed
  // (an async generator's return() waits for the step it is in to end).

  const order: string[] = [];

  @expose
  @behavior({ instanceMode: "session" })
  class Probe {
    async *sample(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) {
          await sleep(250);
          yield i;
        }
      } finally {
        order.push("finally");
      }
    }

    [Symbol.dispose](): void {
      order.push("disposed");
    }
  }

  describe("streams: session instances", () => {
    // Over TCP the transport reports the connections it closes; close() still drops their
    // peers (and sessions) only after the generators have finished.
    it("daemon.close() during a stream runs the generator's finally before disposing its session instance", async () => {
      order.length = 0;
      const daemon = await use.daemon();
      const proxy = await use.connect<Probe>(daemon.register(Probe, "probe"), { timeout: 5000 });
      let closed: Promise<void> | undefined;
      const { items, error } = await drain(proxy.sample(), (_, i) => {
        if (i === 1) closed = daemon.close();
      });
      await closed;
      expect(items).toEqual([0, 1]);
      expect(error).toBeInstanceOf(DaemonError);
      expect(order).toEqual(["finally", "disposed"]);
    }, 10_000);

    it("a client gone silent mid-stream: the generator's finally runs before its session instance is disposed", async () => {
      order.length = 0;
      const daemon = await use.daemon({ heartbeatInterval: 200, heartbeatTimeout: 600 });
      daemon.register(Probe, "probe");
      const raw = new RawPeer(endpointOf(daemon.location), transport, { heartbeats: false });
      use.onCleanup(async () => raw.close());
      await raw.call(1, "probe", "sample", []);
      expect(itemValues(await raw.take(2))).toEqual(["stream", 0]);
      // Then silence: no credit, no heartbeat. The daemon drops the connection after 600 ms.
      await expect.poll(() => order.length, { timeout: 5000 }).toBe(2);
      expect(order).toEqual(["finally", "disposed"]);
    }, 10_000);

    if (transport === "tcp") {
      it("a client whose connection closes mid-stream is dropped at once (no heartbeat timeout over TCP): the generator's finally runs before its session instance is disposed", async () => {
        order.length = 0;
        const daemon = await use.daemon({ heartbeatTimeout: 60_000 });
        daemon.register(Probe, "probe");
        const raw = new RawPeer(endpointOf(daemon.location), transport);
        use.onCleanup(async () => raw.close());
        await raw.call(1, "probe", "sample", []);
        expect(itemValues(await raw.take(2))).toEqual(["stream", 0]);
        const started = Date.now();
        raw.close();
        await expect.poll(() => order.length, { timeout: 5000 }).toBe(2);
        expect(order).toEqual(["finally", "disposed"]);
        expect(Date.now() - started).toBeLessThan(3000);
      }, 10_000);
    }
  });
});
