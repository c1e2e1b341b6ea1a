/**
 * Remote iterators across processes, where a user would have them: a daemon or a consumer
 * in a child process (run from dist/, so `npm run build` first), killed or starved mid-stream.
 * Real TCP sockets on 127.0.0.1 only.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { ConnectionClosedError } from "../src/index.js";
import { Streams } from "./fixtures/stream-source.js";
import { drain } from "./fixtures/stream-tools.js";
import { resources } from "./helpers.js";
import { freePort } from "./host-processes.js";
import { NodeChild } from "./node-child.js";

const FIXTURES = ["stream-daemon", "stream-client", "stream-source"] as const;
const distFixture = (name: (typeof FIXTURES)[number]): string => join("dist", "test", "fixtures", `${name}.js`);
const MiB = 1024 * 1024;
/** The daemon's default streamWindow. */
const WINDOW = 1024;
const HEARTBEAT = { heartbeatInterval: 200, heartbeatTimeout: 600 };
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** What the daemon child serves: Streams, and its own memory after a collection. */
interface MeasuredStreams extends Streams {
  usage(): NodeJS.MemoryUsage;
}

const use = resources();

beforeAll(() => {
  for (const name of FIXTURES) {
    const compiled = distFixture(name);
    const source = join("test", "fixtures", `${name}.ts`);
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) {
      throw new Error(`${compiled} is missing or older than ${source}: run \`npm run build\` first`);
    }
  }
});

/** Starts a compiled fixture with its JSON config; killed after the test (in reverse order of creation). */
function start(name: string, fixture: "stream-daemon" | "stream-client", config: unknown): NodeChild {
  const child = new NodeChild(name, distFixture(fixture), [JSON.stringify(config)]);
  use.onCleanup(() => child.kill("SIGKILL"));
  return child;
}

/** A daemon child serving Streams; resolves with its URI once it serves. */
async function daemonChild(name: string, config: Record<string, unknown>): Promise<{ child: NodeChild; uri: string }> {
  const child = start(name, "stream-daemon", config);
  const { uri } = JSON.parse(await child.line(0, 15_000)) as { uri: string };
  return { child, uri };
}

describe("streams across processes", () => {
  it("a client that never reads a 50 MiB stream leaves the daemon process bounded: window-many items made, memory flat", async () => {
    const windowBytes = 8 * MiB;
    const { uri } = await daemonChild("daemon", { streamWindowBytes: windowBytes });
    const proxy = await use.connect<MeasuredStreams>(uri, { timeout: 10_000 });
    // Warm up (first large messages, lazy allocations), then measure from there.
    expect((await drain(proxy.ticks("warm", 4, 0, MiB))).items).toHaveLength(4);
    const before = await proxy.usage();

    const stream = await proxy.ticks("unread", 50, 0, MiB);
    const bound = windowBytes / MiB + 1;
    await expect.poll(async () => (await proxy.track("unread"))?.produced, { timeout: 5000 }).toBeGreaterThanOrEqual(bound - 1);
    // Time enough for a daemon without flow control to make all 50 (it makes 8 in a few ms).
    await sleep(1000);
    const track = (await proxy.track("unread"))!;
    expect(track.produced).toBeLessThanOrEqual(bound);
    expect(track.finished).toBe(false);
    const after = await proxy.usage();
    const growth = (key: "rss" | "arrayBuffers" | "external"): number => (after[key] - before[key]) / MiB;
    expect(growth("arrayBuffers"), "arrayBuffers growth, MiB").toBeLessThan(20);
    expect(growth("external"), "external growth, MiB").toBeLessThan(20);
    expect(growth("rss"), "rss growth, MiB").toBeLessThan(30);

    await stream.close();
    await expect.poll(async () => (await proxy.track("unread"))?.finished, { timeout: 5000 }).toBe(true);
    expect((await proxy.track("unread"))!.produced).toBeLessThanOrEqual(bound);
  }, 30_000);

  it("a consumer process SIGKILLed mid-stream ends the generator on the daemon within the heartbeat timeout", async () => {
    const daemon = await use.daemon(HEARTBEAT);
    const source = new Streams();
    const uri = daemon.register(source, "streams");
    const dropped: string[] = [];
    daemon.clientDisconnected.connect((peer) => void dropped.push(peer));

    const consumer = start("consumer", "stream-client", { uri, key: "killed", read: 3, ...HEARTBEAT });
    await consumer.waitForLine((line) => line === "stalled", 15_000, '"stalled"');
    expect(consumer.lines.slice(0, 3)).toEqual(["item 0", "item 1", "item 2"]);
    // The consumer stopped reading: the generator stops at the window (1024) and waits for credit.
    await expect.poll(() => source.tracks.get("killed")?.produced, { timeout: 5000 }).toBe(WINDOW);
    await sleep(300);
    expect(source.tracks.get("killed")).toMatchObject({ produced: WINDOW, finished: false });

    await consumer.kill("SIGKILL");
    const killedAt = Date.now();
    await expect.poll(() => source.tracks.get("killed")?.finished, { timeout: HEARTBEAT.heartbeatTimeout + 4000, interval: 20 }).toBe(true);
    expect(Date.now() - killedAt).toBeLessThan(HEARTBEAT.heartbeatTimeout + 3000);
    const track = source.tracks.get("killed")!;
    expect(track).toMatchObject({ aborted: true, contextAborted: true, produced: WINDOW });
    expect(dropped).toContain(track.peer);
  }, 30_000);

  it("a daemon process SIGKILLed mid-stream fails the for-await with ConnectionClosedError, and the same proxy streams again once it is back", async () => {
    const port = await freePort();
    const first = await daemonChild("daemon", { port, ...HEARTBEAT });
    const proxy = await use.connect<Streams>(first.uri, { timeout: 10_000, ...HEARTBEAT });
    const startedAt = Date.now();
    const { items, error } = await drain(proxy.ticks("doomed", 1_000_000, 20, 0), async (_, i) => {
      if (i === 2) await first.child.kill("SIGKILL");
    });
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(items.length).toBeGreaterThanOrEqual(3);
    expect(items).toEqual(range(items.length));
    // The connection's loss ended it, not the 10 s item timeout.
    expect(Date.now() - startedAt).toBeLessThan(8000);

    const second = await daemonChild("daemon again", { port, ...HEARTBEAT });
    expect(second.uri).toBe(first.uri);
    expect((await drain(proxy.count(1000))).items).toEqual(range(1000));
  }, 30_000);
});
