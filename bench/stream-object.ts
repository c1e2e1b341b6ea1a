import { setTimeout as sleep } from "node:timers/promises";
import { expose } from "../src/index.js";

/** The daemon's memory, as the stream benchmark reads it (MiB are left to the reader). */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** The highest readings of each field between startSampling() and stopSampling(). */
export interface MemoryPeak extends MemorySample {
  readonly samples: number;
}

const SAMPLE_MS = 5;
const SETTLE_MS = 20;

function sample(): MemorySample {
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

/** What the streaming benchmarks iterate, served from a child process (bench/stream-server.ts). */
@expose
export class StreamObject {
  /** Items the last `frames` stream has pulled from its generator: how far the producer got ahead of the reader. */
  #produced = 0;
  #peak: { rss: number; heapUsed: number; external: number; arrayBuffers: number; samples: number } | undefined;
  #sampler: NodeJS.Timeout | undefined;

  /** n small items, as a lab instrument streams readings. */
  *readings(n: number): Generator<{ seq: number; value: number }> {
    for (let i = 0; i < n; i++) yield { seq: i, value: i * 0.25 };
  }

  /** n binary items of `bytes` bytes, the same Buffer each time (as the raw baseline sends). */
  *blobs(n: number, bytes: number): Generator<Buffer> {
    const data = Buffer.alloc(bytes, 7);
    for (let i = 0; i < n; i++) yield data;
  }

  /**
   * n fresh Buffers of `bytes` bytes, produced as fast as the stream pulls them (a camera
   * that never waits): what the daemon holds of them is what flow control lets it hold.
   */
  *frames(n: number, bytes: number): Generator<Buffer> {
    this.#produced = 0;
    for (let i = 0; i < n; i++) {
      const frame = Buffer.alloc(bytes, i & 0xff);
      this.#produced++;
      yield frame;
    }
  }

  get produced(): number {
    return this.#produced;
  }

  /**
   * The daemon's memory now. With `collect`, after full garbage collections (the child runs
   * with --expose-gc) around a short pause, in which ZeroMQ hands back the Buffers it has sent.
   */
  async memory(collect: boolean): Promise<MemorySample> {
    if (collect) {
      globalThis.gc?.();
      await sleep(SETTLE_MS);
      globalThis.gc?.();
    }
    return sample();
  }

  /** Starts reading the daemon's memory every few ms, keeping the highest reading of each field. */
  startSampling(): void {
    this.stopSampling();
    this.#peak = { ...sample(), samples: 1 };
    this.#sampler = setInterval(() => {
      const now = sample();
      const peak = this.#peak!;
      peak.rss = Math.max(peak.rss, now.rss);
      peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
      peak.external = Math.max(peak.external, now.external);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
      peak.samples++;
    }, SAMPLE_MS);
  }

  /** Stops the sampling; the highest readings since startSampling(). */
  stopSampling(): MemoryPeak | undefined {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
    const peak = this.#peak;
    this.#peak = undefined;
    return peak;
  }
}
