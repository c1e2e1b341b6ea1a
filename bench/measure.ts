/** Timing helpers shared by the benchmarks. */

export interface Rate {
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
}

export async function timed(count: number, run: () => Promise<void>): Promise<Rate> {
  const start = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { count, seconds, perSecond: count / seconds };
}

/** Runs `once` `count` times sequentially, recording each latency in µs. */
export async function latencies(count: number, once: () => Promise<unknown>): Promise<{ rate: Rate; p50: number; p99: number }> {
  const samples = new Float64Array(count);
  const rate = await timed(count, async () => {
    for (let i = 0; i < count; i++) {
      const t = process.hrtime.bigint();
      await once();
      samples[i] = Number(process.hrtime.bigint() - t) / 1000;
    }
  });
  samples.sort();
  return { rate, p50: samples[Math.floor(count * 0.5)]!, p99: samples[Math.min(count - 1, Math.floor(count * 0.99))]! };
}

/** Keeps `window` calls in flight until `count` completed. */
export async function pipelined(count: number, window: number, call: () => Promise<unknown>): Promise<Rate> {
  return timed(count, async () => {
    let started = 0;
    const lane = async (): Promise<void> => {
      while (started < count) {
        started++;
        await call();
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  });
}

/** user+sys µs between two cpuUsage readings. */
export function cpuMicros(before: NodeJS.CpuUsage, after: NodeJS.CpuUsage): number {
  return after.user - before.user + (after.system - before.system);
}

/** Runs each side's measurement `count` times, the sides taking turns; every result, by side then round. */
export async function rounds<T>(count: number, sides: readonly (() => Promise<T>)[]): Promise<T[][]> {
  const results: T[][] = sides.map(() => []);
  for (let round = 0; round < count; round++) {
    for (const [i, side] of sides.entries()) results[i]!.push(await side());
  }
  return results;
}

/** The result with the highest `score`. */
export function best<T>(results: readonly T[], score: (result: T) => number): T {
  return results.reduce((a, b) => (score(b) > score(a) ? b : a));
}

/**
 * Runs each side's measurement `count` times, the sides taking turns so a noisy moment hurts
 * none alone, and keeps each side's best round (the highest `score`).
 */
export async function alternating<T>(count: number, sides: readonly (() => Promise<T>)[], score: (result: T) => number): Promise<T[]> {
  return (await rounds(count, sides)).map((results) => best(results, score));
}

/**
 * The median over rounds of `a[r] / b[r]`, two sides measured one right after the other in each
 * round: a drift of the machine's speed over seconds hits both sides of a round alike and
 * cancels in its ratio, where the best rounds of each side may come from different moments.
 */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  return median(roundRatios(a, b));
}

/** `a[r] / b[r]` for each round `r`. */
export function roundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, r) => value / b[r]!);
}

/** The median (of an even count, the mean of the middle two). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A figure for a table: whole numbers with thousands separators from 100 up, else 3 significant digits. */
export function formatNumber(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toPrecision(3);
}

/**
 * Runs a benchmark's cleanups, last first, each given at most `limitMs`: a close that fails or
 * hangs (a watch cancel with etcd gone, a child that ignores SIGTERM) must not keep the rest running.
 */
export async function runCleanups(cleanups: readonly (() => unknown)[], limitMs: number): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)));
    await Promise.race([Promise.resolve().then(cleanup).catch(() => {}), limit]);
    clearTimeout(timer);
  }
}
