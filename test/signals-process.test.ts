/**
 * Remote signals across processes: subscribers and daemons in child processes (run from
 * dist/, so `npm run build` first), real TCP sockets on 127.0.0.1 only.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep, setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SignalGap } from "../src/index.js";
import { Beacon } from "./fixtures/signal-beacon.js";
import { resources } from "./helpers.js";
import { NodeChild } from "./node-child.js";

const FIXTURES = ["signal-beacon", "signal-daemon", "signal-subscriber", "signal-close-race"] as const;
const distFixture = (name: (typeof FIXTURES)[number]): string => join("dist", "test", "fixtures", `${name}.js`);

/** What a subscriber child prints for mode "ticks". */
interface TickResult {
  count: number;
  first?: number;
  last?: number;
  consecutive: boolean;
  increasing: boolean;
  dropped: number;
  gaps: SignalGap[];
  values?: number[];
}

interface Described {
  constructor: string | null;
  isBuffer: boolean;
  isFloat64Array: boolean;
  hex: string | null;
  length: number | null;
}

/** What a subscriber child prints for mode "blob". */
interface BlobResult {
  bytes: Described;
  samples: Described;
  label: string;
}

/** A fixture that prints "ready" once subscribed and one `{"result": …}` line at the end. */
class NodeChildWithResult extends NodeChild {
  constructor(name: string, script: string, config: unknown) {
    super(name, script, [JSON.stringify(config)]);
  }

  ready(timeoutMs = 15_000): Promise<string> {
    return this.waitForLine((line) => line === "ready", timeoutMs, '"ready"');
  }

  async result<T>(timeoutMs: number): Promise<T> {
    const line = await this.waitForLine((l) => l.startsWith('{"result"'), timeoutMs, "result line");
    return (JSON.parse(line) as { result: T }).result;
  }
}

const use = resources();

/**
 * Starts a compiled fixture. Cleanup runs in reverse order of creation, whatever happened:
 * a child started after a daemon is killed (and gone) before that daemon closes, a proxy
 * connected after a daemon child started is closed while that child still answers.
 */
function start(name: string, fixture: "signal-daemon" | "signal-subscriber" | "signal-close-race", config: unknown): NodeChildWithResult {
  const child = new NodeChildWithResult(name, distFixture(fixture), config);
  use.onCleanup(() => child.kill("SIGKILL"));
  return child;
}

let tmp: string;

beforeAll(() => {
  for (const name of FIXTURES) {
    const compiled = distFixture(name);
    const source = join("test", "fixtures", `${name}.ts`);
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(`${compiled} is missing or older than ${source}: run \`npm run build\` first`);
    }
  }
  tmp = mkdtempSync(join(tmpdir(), "pyro-ts-signals-"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** Emits tick(from…from+count-1) in synchronous batches, yielding to the event loop between batches; returns the time taken. */
async function emitTicks(beacon: Beacon, from: number, count: number, batch: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    const end = Math.min(count, i + batch);
    for (let j = i; j < end; j++) beacon.tick.emit(from + j);
    await nextTurn();
  }
  return performance.now() - started;
}

describe("remote signals across processes", () => {
  it("10 subscriber processes each receive all of 1,000 emissions, complete and in order", async () => {
    const daemon = await use.daemon();
    const beacon = new Beacon();
    const uri = daemon.register(beacon, "beacon");
    const subscribers = range(0, 10).map((i) => start(`subscriber ${i}`, "signal-subscriber", { uri, mode: "ticks", until: 999, settleMs: 200 }));
    await Promise.all(subscribers.map((s) => s.ready()));
    // One hook on the real signal, however many connections listen.
    expect(beacon.tick.listenerCount).toBe(1);

    for (let n = 0; n < 1000; n++) beacon.tick.emit(n);

    const results = await Promise.all(subscribers.map((s) => s.result<TickResult>(10_000)));
    for (const result of results) {
      expect(result).toEqual({ count: 1000, first: 0, last: 999, consecutive: true, increasing: true, dropped: 0, gaps: [] });
    }
    // They exit by themselves, cleanly, unsubscribing on the way out.
    await Promise.all(subscribers.map((s) => Promise.race([s.closed, sleep(5000)])));
    for (const s of subscribers) expect(s.exit, s.name).toEqual({ code: 0, signal: null });
    await expect.poll(() => beacon.tick.listenerCount, { timeout: 5000 }).toBe(0);
  }, 30_000);

  it("a SIGKILLed subscriber neither slows the emitter nor starves a live subscriber, and is dropped after the heartbeat timeout", async () => {
    const heartbeat = { heartbeatInterval: 200, heartbeatTimeout: 1000 };
    // A queue deep enough that the live in-process subscriber never loses anything.
    const daemon = await use.daemon({ ...heartbeat, maxQueuedEvents: 100_000 });
    const beacon = new Beacon();
    const uri = daemon.register(beacon, "beacon");
    const sideBefore = beacon.side.listenerCount;

    const proxy = await use.connect<Beacon>(uri, { ...heartbeat, timeout: 5000 });
    const got: number[] = [];
    const off = await proxy.tick.connect((n) => {
      got.push(n);
    });

    // The child listens to tick (load) and to side, which nobody else listens to.
    const doomed = start("doomed subscriber", "signal-subscriber", { uri, mode: "ticks", until: Number.MAX_SAFE_INTEGER, side: true, ...heartbeat });
    await doomed.ready();
    expect(beacon.side.listenerCount).toBe(sideBefore + 1);

    const N = 20_000;
    const baselineMs = await emitTicks(beacon, 0, N, 1000);
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(N);

    await doomed.kill("SIGKILL");
    const killedAt = Date.now();
    // Not noticed yet: the daemon still holds its subscription while we emit.
    expect(beacon.side.listenerCount).toBe(sideBefore + 1);

    const withDeadMs = await emitTicks(beacon, N, N, 1000);
    expect(withDeadMs).toBeLessThan(10_000);
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(2 * N);
    expect(got.every((n, i) => n === i)).toBe(true);
    expect(proxy.tick.dropped).toBe(0);

    // Dropped once silent for heartbeatTimeout (swept every heartbeatInterval / 2).
    await expect.poll(() => beacon.side.listenerCount, { timeout: 5000, interval: 20 }).toBe(sideBefore);
    const droppedAfterMs = Date.now() - killedAt;
    expect(droppedAfterMs).toBeLessThan(heartbeat.heartbeatTimeout + 2000);
    // The live subscriber is still served.
    expect(beacon.tick.listenerCount).toBe(1);
    beacon.tick.emit(2 * N);
    await expect.poll(() => got.at(-1), { timeout: 5000 }).toBe(2 * N);

    await off();
    await expect.poll(() => beacon.tick.listenerCount, { timeout: 5000 }).toBe(0);
    console.info(`emit ${N}: ${baselineMs.toFixed(0)} ms before, ${withDeadMs.toFixed(0)} ms with a dead subscriber; dropped ${droppedAfterMs} ms after the kill`);
  }, 30_000);

  it("after the daemon restarts on the same port, the slot fires again and missed reports the reconnect", async () => {
    const heartbeat = { heartbeatInterval: 200, heartbeatTimeout: 1000 };
    const first = start("daemon #1", "signal-daemon", { port: 0, ...heartbeat });
    const { port, uri } = JSON.parse(await first.waitForLine((l) => l.startsWith("{"), 10_000, "address line")) as { port: number; uri: string };
    expect(port).toBeGreaterThan(0);

    const proxy = await use.connect<Beacon>(uri, { ...heartbeat, timeout: 2000 });
    const got: number[] = [];
    const gaps: SignalGap[] = [];
    proxy.tick.missed.connect((gap) => {
      gaps.push(gap);
    });
    await proxy.tick.connect((n) => {
      got.push(n);
    });
    expect(await proxy.emitTicks(1, 3)).toBe(3);
    await expect.poll(() => got, { timeout: 5000 }).toEqual([1, 2, 3]);

    await first.kill("SIGKILL");
    const second = start("daemon #2", "signal-daemon", { port, ...heartbeat });
    const restarted = JSON.parse(await second.waitForLine((l) => l.startsWith("{"), 10_000, "address line")) as { port: number; uri: string };
    expect(restarted).toEqual({ port, uri });

    // Calls made before the reconnect fail (sent to the dead daemon) or may run before the
    // re-subscription: trigger until an emission reaches the slot, bounded.
    const deadline = Date.now() + 15_000;
    let next = 100;
    while (!got.some((n) => n >= 100) && Date.now() < deadline) {
      await proxy.emitTicks(next, 1).catch(() => undefined);
      next++;
      await sleep(50);
    }
    expect(got.filter((n) => n >= 100).length).toBeGreaterThan(0);
    await expect.poll(() => gaps, { timeout: 5000 }).toEqual([{ reason: "reconnect" }]);
    expect(proxy.tick.dropped).toBe(0);

    // Re-subscribed for good: every later emission arrives, in order.
    const before = got.length;
    await proxy.emitTicks(1000, 50);
    await expect.poll(() => got.length, { timeout: 5000 }).toBe(before + 50);
    expect(got.slice(before)).toEqual(range(1000, 50));
    expect(got.slice(0, 3)).toEqual([1, 2, 3]);
    expect(got.every((n, i) => i === 0 || n > got[i - 1]!)).toBe(true);

    await proxy.$close();
    await second.kill("SIGTERM");
    expect(second.exit).toEqual({ code: 0, signal: null });
  }, 30_000);

  it("a blocked subscriber loses the OLDEST events, counted in dropped and missed, and never blocks the emitter", async () => {
    const WINDOW = 10;
    const QUEUE = 100;
    const N = 2000;
    const daemon = await use.daemon({ eventWindow: WINDOW, maxQueuedEvents: QUEUE });
    const beacon = new Beacon();
    const uri = daemon.register(beacon, "beacon");
    const unblock = join(tmp, "unblock-overflow");
    const sub = start("blocked subscriber", "signal-subscriber", { uri, mode: "ticks", until: N - 1, values: true, blockUntilFile: unblock, settleMs: 300 });
    await sub.ready();

    // The subscriber busy-waits until `unblock` exists: it reads and acknowledges nothing
    // meanwhile. The emitter yields between batches, so acks could flow if it were not blocked.
    const emitMs = await emitTicks(beacon, 0, N, 100);
    writeFileSync(unblock, "");
    expect(emitMs).toBeLessThan(10_000);

    const result = await sub.result<TickResult>(10_000);
    const values = result.values!;
    expect(result.dropped).toBeGreaterThan(0);
    expect(result.gaps.length).toBeGreaterThan(0);
    expect(result.gaps.every((g) => g.reason === "overflow")).toBe(true);
    expect(result.gaps.reduce((sum, g) => sum + (g.reason === "overflow" ? g.count : 0), 0)).toBe(result.dropped);
    // Every emission was either delivered or counted as dropped.
    expect(values.length + result.dropped).toBe(N);
    expect(result.increasing).toBe(true);
    expect(values.at(-1)).toBe(N - 1);
    // Nothing was acknowledged while blocked: the first window went out, the last QUEUE
    // waited, everything between (the oldest waiting) was dropped.
    expect(values).toEqual([...range(0, WINDOW), ...range(N - QUEUE, QUEUE)]);
    expect(result.dropped).toBe(N - WINDOW - QUEUE);
    await Promise.race([sub.closed, sleep(5000)]);
    expect(sub.exit).toEqual({ code: 0, signal: null });
  }, 30_000);

  describe("binary payloads", () => {
    /** A Buffer and a Float64Array that are views at an offset into larger memory. */
    function binaryArgs(): { bytes: Buffer; samples: Float64Array } {
      const backing = Buffer.alloc(300 + 7);
      for (let i = 0; i < 300; i++) backing[7 + i] = (i * 37 + 11) & 0xff;
      const bytes = backing.subarray(7, 7 + 300);
      const memory = new ArrayBuffer(8 * 12);
      const samples = new Float64Array(memory, 16, 9);
      samples.set([0, -0, 1.5, -2.25, Number.NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE]);
      return { bytes, samples };
    }
    const hexOf = (view: ArrayBufferView): string => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("hex");

    it("a Buffer and a Float64Array emitted here arrive in a subscriber process as the same types with the same bytes", async () => {
      const daemon = await use.daemon();
      const beacon = new Beacon();
      const uri = daemon.register(beacon, "beacon");
      const sub = start("blob subscriber", "signal-subscriber", { uri, mode: "blob" });
      await sub.ready();
      const { bytes, samples } = binaryArgs();
      beacon.blob.emit(bytes, samples, "spectrum");
      const result = await sub.result<BlobResult>(10_000);
      expect(result).toEqual({
        bytes: { constructor: "Buffer", isBuffer: true, isFloat64Array: false, hex: hexOf(bytes), length: 300 },
        samples: { constructor: "Float64Array", isBuffer: false, isFloat64Array: true, hex: hexOf(samples), length: 9 },
        label: "spectrum",
      });
      await Promise.race([sub.closed, sleep(5000)]);
      expect(sub.exit).toEqual({ code: 0, signal: null });
    }, 20_000);

    it("a Buffer and a Float64Array emitted in a daemon process arrive here as the same types with the same bytes", async () => {
      const daemonChild = start("daemon", "signal-daemon", {});
      const { uri } = JSON.parse(await daemonChild.waitForLine((l) => l.startsWith("{"), 10_000, "address line")) as { uri: string };
      const proxy = await use.connect<Beacon>(uri, { timeout: 5000 });
      const received: unknown[][] = [];
      await proxy.blob.connect((...args) => {
        received.push(args);
      });
      const { bytes, samples } = binaryArgs();
      // Travels here → daemon process as call arguments, and back as the emission.
      expect(await proxy.emitBlob(bytes, samples, "spectrum")).toBe(300);
      await expect.poll(() => received.length, { timeout: 5000 }).toBe(1);
      const [gotBytes, gotSamples, label] = received[0]!;
      expect(Buffer.isBuffer(gotBytes)).toBe(true);
      expect(hexOf(gotBytes as Buffer)).toBe(hexOf(bytes));
      expect(gotSamples).toBeInstanceOf(Float64Array);
      expect((gotSamples as Float64Array).length).toBe(9);
      expect(hexOf(gotSamples as Float64Array)).toBe(hexOf(samples));
      expect(Object.is((gotSamples as Float64Array)[1], -0)).toBe(true);
      expect(label).toBe("spectrum");
    }, 20_000);
  });

  // BUG: src/daemon/peers.ts + src/daemon/signal-hub.ts dropPeer: a connection whose event
  // loop stalls for longer than heartbeatTimeout has its subscriptions dropped by the daemon,
  // but its ZeroMQ connection stays up (libzmq answers ZMTP heartbeats on its own I/O
  // thread), so the client never sees a disconnect: src/proxy/subscriptions.ts keeps the
  // Subscription `active`, never renews it and never emits `missed`. Every later emission
  // is silently lost for good.
  it("a subscriber whose event loop stalled past the heartbeat timeout gets events again, or is told it missed some", async () => {
    const heartbeat = { heartbeatInterval: 200, heartbeatTimeout: 600 };
    const daemon = await use.daemon(heartbeat);
    const beacon = new Beacon();
    const uri = daemon.register(beacon, "beacon");
    const unblock = join(tmp, "unblock-stall");
    const sub = start("stalled subscriber", "signal-subscriber", { uri, mode: "ticks", until: 10, blockUntilFile: unblock, finishAfterMs: 3000, ...heartbeat });
    await sub.ready();
    // While it is blocked it sends nothing, and the daemon gives it up after heartbeatTimeout
    // (just waited for here, not asserted: a fix may well keep the subscription instead).
    for (const deadline = Date.now() + 3000; beacon.tick.listenerCount > 0 && Date.now() < deadline; ) await sleep(20);
    writeFileSync(unblock, "");
    await sub.waitForLine((l) => l === "unblocked", 5000, '"unblocked"');
    // It is alive again: emit while it waits (up to finishAfterMs) for them.
    const resultLine = sub.result<TickResult>(10_000);
    resultLine.catch(() => {}); // awaited below; never an unhandled rejection meanwhile
    for (let n = 0; n <= 10 && sub.running; n++) {
      beacon.tick.emit(n);
      await sleep(200);
    }
    const result = await resultLine;
    await Promise.race([sub.closed, sleep(5000)]);
    expect(result.count > 0 || result.gaps.length > 0).toBe(true);
  }, 20_000);

  // Regression: at commit 3750e90, src/transport/server-socket.ts close() awaited
  // router.unbind() while the receive loop kept running; zeromq.js refuses receive() during
  // an unbind (EBUSY), so a message arriving then made the loop reject unhandled and
  // Daemon.close() reject. Runs in a child: an unhandled rejection must not hit this process.
  it("closing a daemon while a subscribed client keeps sending neither rejects nor leaves an unhandled rejection", async () => {
    const race = start("close race", "signal-close-race", { rounds: 15 });
    const result = await race.result<{ rounds: number; closeErrors: string[]; unhandled: string[]; warnings: string[] }>(25_000);
    await Promise.race([race.closed, sleep(5000)]);
    expect(result.unhandled).toEqual([]);
    expect(result.closeErrors).toEqual([]);
    expect(result.rounds).toBe(15);
  }, 30_000);
});
