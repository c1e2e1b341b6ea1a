/**
 * Remote iterators: items/s of a stream from a daemon in a child process to a client in this
 * process, beside a raw zeromq.js ROUTER in a child sending the same items to a DEALER here
 * (bench/raw-stream-server.ts), each item its own message, as fast as zeromq.js sends; and
 * the memory a daemon holds while a slow client reads a fast stream of 1 MiB items, beside
 * the same daemon idle and the stream window it grants.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Dealer } from "zeromq";
import { connect, type Remote } from "../src/index.js";
import { startChild, type Child } from "./children.js";
import { timed, type Rate } from "./measure.js";
import type { Figure } from "./rpc-benchmarks.js";
import type { MemorySample, StreamObject } from "./stream-object.js";

export interface StreamSizes {
  /** Small items each side streams before anything is measured. */
  readonly warmup: number;
  /** Small items per round. */
  readonly small: number;
  /** 1 MiB items per round. */
  readonly mib1: number;
  /** Rounds per side, alternating; the best counts. */
  readonly rounds: number;
  /** 1 MiB items the slow reader reads, and how long it dwells on each. */
  readonly slowItems: number;
  readonly slowMs: number;
}

export interface StreamReport {
  readonly figures: Figure[];
  readonly notes: string[];
}

interface StreamServerInfo {
  uri: string;
  window: number;
  windowBytes: number;
  gc: boolean;
}

const MIB = 1024 * 1024;
const WAIT_LIMIT_MS = 120_000;

/** The raw baseline's reader: a DEALER that asks the raw ROUTER for a burst and receives all of it. */
class RawStreamClient {
  readonly #dealer = new Dealer({ linger: 0, sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: -1 });

  constructor(endpoint: string) {
    this.#dealer.connect(endpoint);
  }

  /** `count` small items, each decoded with JSON.parse; resolves with the last one's seq. */
  async small(count: number): Promise<number> {
    await this.#dealer.send(["n", String(count)]);
    let last = -1;
    for (let i = 0; i < count; i++) {
      const [frame] = await this.#dealer.receive();
      last = (JSON.parse(frame!.toString()) as { seq: number }).seq;
    }
    return last;
  }

  /** `count` binary items of `bytes` bytes; resolves with the bytes received. */
  async binary(count: number, bytes: number): Promise<number> {
    await this.#dealer.send(["b", String(count), String(bytes)]);
    let received = 0;
    for (let i = 0; i < count; i++) received += (await this.#dealer.receive())[0]!.byteLength;
    return received;
  }

  close(): void {
    this.#dealer.close();
  }
}

/** The best of `rounds` rounds of each side, the sides taking turns so a noisy moment hurts neither alone. */
async function alternating(rounds: number, raw: () => Promise<Rate>, pyro: () => Promise<Rate>): Promise<{ raw: Rate; pyro: Rate }> {
  let bestRaw: Rate | undefined;
  let bestPyro: Rate | undefined;
  for (let round = 0; round < rounds; round++) {
    const r = await raw();
    if (!bestRaw || r.perSecond > bestRaw.perSecond) bestRaw = r;
    const p = await pyro();
    if (!bestPyro || p.perSecond > bestPyro.perSecond) bestPyro = p;
  }
  return { raw: bestRaw!, pyro: bestPyro! };
}

/** Fails a benchmark that hangs (a lost item) instead of waiting forever. */
async function limited<T>(what: string, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not complete within ${WAIT_LIMIT_MS} ms`)), WAIT_LIMIT_MS)));
  try {
    return await Promise.race([run, limit]);
  } finally {
    clearTimeout(timer);
  }
}

const mib = (bytes: number): number => bytes / MIB;
const fixed = (n: number): string => n.toFixed(1);
const range = (ns: readonly number[]): string => (Math.min(...ns) === Math.max(...ns) ? String(ns[0]) : `${Math.min(...ns)}-${Math.max(...ns)}`);

export async function streamBenchmarks(sizes: StreamSizes): Promise<StreamReport> {
  const figures: Figure[] = [];
  const notes: string[] = [];
  const children: Child<unknown>[] = [];
  let raw: RawStreamClient | undefined;
  let proxy: Remote<StreamObject> | undefined;
  try {
    const rawServer = await startChild<{ endpoint: string }>("raw-stream-server");
    children.push(rawServer);
    const pyroServer = await startChild<StreamServerInfo>("stream-server", [], ["--expose-gc"]);
    children.push(pyroServer);
    const { window, windowBytes } = pyroServer.info;
    raw = new RawStreamClient(rawServer.info.endpoint);
    proxy = await connect<StreamObject>(pyroServer.info.uri);
    const rawClient = raw;
    const streams = proxy;

    const pyroSmall = async (count: number): Promise<void> => {
      let last = -1;
      for await (const item of streams.readings(count)) last = item.seq;
      if (last !== count - 1) throw new Error(`the pyro-ts stream ended at item ${last} of ${count}`);
    };
    const rawSmall = async (count: number): Promise<void> => {
      const last = await rawClient.small(count);
      if (last !== count - 1) throw new Error(`the raw stream ended at item ${last} of ${count}`);
    };

    // Warm up both paths (JIT tiers, connections) with small and large items.
    await limited("the warm-up", (async () => {
      for (let i = 0; i < 4; i++) {
        await rawSmall(sizes.warmup / 4);
        await pyroSmall(sizes.warmup / 4);
      }
      await rawClient.binary(8, MIB);
      for await (const _ of streams.blobs(8, MIB));
    })());

    // Small items: a number and a short field name, as an instrument streams readings.
    const small = await limited("the small-item streams", alternating(
      sizes.rounds,
      () => timed(sizes.small, () => rawSmall(sizes.small)),
      () => timed(sizes.small, () => pyroSmall(sizes.small)),
    ));
    figures.push({
      name: "stream of small items", unit: "items/s", pyro: small.pyro.perSecond, baseline: small.raw.perSecond,
      baselineName: "raw router sends (JSON)", ratio: small.pyro.perSecond / small.raw.perSecond, target: 0.7,
    });

    // 1 MiB Buffers: the same Buffer each item on both sides (no allocation measured).
    const binary = await limited("the 1 MiB streams", alternating(
      sizes.rounds,
      () => timed(sizes.mib1, async () => {
        const bytes = await rawClient.binary(sizes.mib1, MIB);
        if (bytes !== sizes.mib1 * MIB) throw new Error(`the raw stream delivered ${bytes} bytes of ${sizes.mib1 * MIB}`);
      }),
      () => timed(sizes.mib1, async () => {
        let bytes = 0;
        for await (const item of streams.blobs(sizes.mib1, MIB)) bytes += item.byteLength;
        if (bytes !== sizes.mib1 * MIB) throw new Error(`the pyro-ts stream delivered ${bytes} bytes of ${sizes.mib1 * MIB}`);
      }),
    ));
    // 1 MiB items: MiB/s and items/s are the same number.
    figures.push({
      name: "stream of 1 MiB Buffers (items/s = MiB/s)", unit: "MiB/s", pyro: binary.pyro.perSecond, baseline: binary.raw.perSecond,
      baselineName: "raw router sends", ratio: binary.pyro.perSecond / binary.raw.perSecond, target: 0.8,
    });

    // A slow reader of a fast stream of fresh 1 MiB Buffers: what the daemon holds meanwhile.
    // At a quarter, half and three quarters of the stream the daemon collects its garbage and
    // reports what it still holds, and how far its generator got ahead of this reader.
    const idle = await streams.memory(true);
    await streams.startSampling();
    const checkpoints = new Set([1, 2, 3].map((q) => Math.max(1, Math.floor((sizes.slowItems * q) / 4))));
    const held: { consumed: number; lead: number; memory: MemorySample }[] = [];
    let consumed = 0;
    await limited("the slow reader", (async () => {
      for await (const item of streams.frames(sizes.slowItems, MIB)) {
        if (item.byteLength !== MIB) throw new Error(`a frame of ${item.byteLength} bytes, not ${MIB}`);
        consumed++;
        await sleep(sizes.slowMs);
        if (checkpoints.has(consumed)) {
          const lead = (await streams.produced) - consumed;
          held.push({ consumed, lead, memory: await streams.memory(true) });
        }
      }
    })());
    const peak = (await streams.stopSampling())!;
    const after = await streams.memory(true);
    if (consumed !== sizes.slowItems) throw new Error(`the slow reader got ${consumed} of ${sizes.slowItems} frames`);
    figures.push({
      name: "daemon rss under a slow reader (peak)", unit: "MiB", pyro: mib(peak.rss), baseline: mib(idle.rss),
      baselineName: "the daemon idle", ratio: idle.rss / peak.rss,
    });
    // The Buffers the daemon keeps alive (after a full GC), beside the window it may fill:
    // at least 1 KiB, the resolution of these readings, so that the ratio stays finite.
    const growth = Math.max(...held.map((h) => h.memory.arrayBuffers - idle.arrayBuffers), 1024);
    figures.push({
      name: "daemon Buffers held under a slow reader (after GC)", unit: "MiB", pyro: mib(growth), baseline: mib(windowBytes),
      baselineName: "the stream window (bytes)", ratio: windowBytes / growth,
    });
    const leads = held.map((h) => h.lead);
    notes.push(
      `streams, slow reader: ${sizes.slowItems} fresh 1 MiB Buffers, read ${sizes.slowMs} ms apart; the generator ran ${range(leads)} items ahead of the reader ` +
        `(window ${window} items or ${fixed(mib(windowBytes))} MiB ≈ ${Math.ceil(windowBytes / MIB)} such items; the stream has ${sizes.slowItems});`,
      `  daemon idle: rss ${fixed(mib(idle.rss))} MiB, arrayBuffers ${fixed(mib(idle.arrayBuffers))} MiB; during the stream (sampled every 5 ms, no forced GC): ` +
        `peak rss ${fixed(mib(peak.rss))} MiB (+${fixed(mib(peak.rss - idle.rss))}), peak arrayBuffers +${fixed(mib(peak.arrayBuffers - idle.arrayBuffers))} MiB (garbage not yet collected included);`,
      `  arrayBuffers after a GC at ${held.map((h) => `item ${h.consumed}: +${fixed(mib(h.memory.arrayBuffers - idle.arrayBuffers))} MiB`).join(", ")}; ` +
        `after the stream rss ${fixed(mib(after.rss))} MiB, arrayBuffers ${fixed(mib(after.arrayBuffers))} MiB`,
    );
    if (!pyroServer.info.gc) notes.push("  (the daemon ran without --expose-gc: the \"after GC\" readings are without a forced GC)");
  } finally {
    // The children are stopped whatever happened before.
    await proxy?.$close().catch(() => {});
    raw?.close();
    await Promise.all(children.map((child) => child.stop()));
  }
  return { figures, notes };
}
