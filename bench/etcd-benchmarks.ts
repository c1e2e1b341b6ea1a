/**
 * Issue 12, part 7: nameservers on etcd storage, each figure beside a baseline of the same run.
 * One real etcd on loopback (bench/etcd-process.ts, fsync on), two nameservers A and B on
 * one etcd prefix and one nameserver M on memory storage, each a child process as in
 * rpc-benchmarks.ts; the bench process calls them through ordinary proxies.
 *
 * - lookups/s through B (etcd) beside M (memory): both answer from memory, so about 1;
 * - sequential registrations/s through A beside M, and beside raw etcd3 puts on the same
 *   etcd (the floor: one committed write per round trip, which A cannot beat);
 * - registration on A → `registered` on a subscriber of B, p50/p99, beside the same
 *   register → `registered` path on M alone (what going through etcd adds), and beside a
 *   raw etcd3 put → watch event on the same etcd (the floor etcd itself sets).
 * Latencies are taken in this process with one clock: before the register call, and in the
 * signal's slot. Samples of the three paths are interleaved, so a noisy moment hurts all.
 * Without the `etcd` binary the figures are skipped with one line saying how to install it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3, Watcher } from "etcd3";
import { openEtcdClient } from "../src/etcd/etcd-client.js";
import { locateNs, type NameServer, type Remote } from "../src/index.js";
import { startChild, type Child } from "./children.js";
import { ETCD_INSTALL_HINT, EtcdProcess, etcdVersion } from "./etcd-process.js";
import { runCleanups, timed } from "./measure.js";
import type { Figure } from "./rpc-benchmarks.js";

export interface EtcdSizes {
  /** Lookups per round. */
  readonly lookups: number;
  /** Registrations per round (each round alternates etcd, memory, raw put). */
  readonly registrations: number;
  /** Latency samples of each path. */
  readonly signals: number;
  /** Rounds of lookups and registrations; the best round of each side counts, as in rpc-benchmarks.ts. */
  readonly rounds: number;
  /** Warm-up samples of each path (JIT, connections, etcd's first writes), not counted. */
  readonly warmup: number;
}

export interface EtcdReport {
  /** Why there are no figures (etcd not installed), else undefined. */
  readonly skipped?: string;
  readonly figures: Figure[];
  readonly notes: string[];
}

const PREFIX = "/bench/names";
const TTL = 10;
/** Longest wait for one signal or watch event; a miss fails the bench rather than skewing it. */
const EVENT_LIMIT_MS = 5000;
/** Longest one cleanup step may take; child stops and etcd's stop bound themselves below this. */
const CLEANUP_LIMIT_MS = 8000;

const higher = (name: string, unit: string, pyro: number, baseline: number, baselineName: string): Figure => ({ name, unit, pyro, baseline, baselineName, ratio: pyro / baseline });
const lower = (name: string, unit: string, pyro: number, baseline: number, baselineName: string): Figure => ({ name, unit, pyro, baseline, baselineName, ratio: baseline / pyro });

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Arrival times of named events (signals, watch events), taken when the event is handled.
 * `wait` resolves with the arrival, however the event and the wait are ordered.
 */
class Arrivals {
  readonly #seen = new Map<string, number>();
  readonly #waiting = new Map<string, (at: number) => void>();

  arrived(name: string): void {
    const at = performance.now();
    const waiter = this.#waiting.get(name);
    if (waiter) waiter(at);
    else this.#seen.set(name, at);
  }

  async wait(name: string): Promise<number> {
    const seen = this.#seen.get(name);
    if (seen !== undefined) {
      this.#seen.delete(name);
      return seen;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        this.#waiting.set(name, resolve);
        timer = setTimeout(() => reject(new Error(`no event for ${name} within ${EVENT_LIMIT_MS} ms`)), EVENT_LIMIT_MS);
      });
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(name);
    }
  }
}

/** ms from just before `write(name)` to the event for `name`; the write must have succeeded too. */
async function latency(arrivals: Arrivals, name: string, write: (name: string) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  const [, at] = await Promise.all([write(name), arrivals.wait(name)]);
  return at - start;
}

const uriOf = (i: number): string => `PYRO:obj_${i}@127.0.0.1:4711`;

export async function etcdBenchmarks(sizes: EtcdSizes): Promise<EtcdReport> {
  const version = etcdVersion();
  if (!version) return { skipped: `etcd is not installed: ${ETCD_INSTALL_HINT}`, figures: [], notes: [] };
  const started = performance.now();
  // Undone in reverse order whatever happens; each step is bounded (child stop, etcd stop, closes).
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const etcd = await EtcdProcess.start();
    cleanups.push(() => etcd.stop());
    const spec = `etcd://${etcd.endpoint}${PREFIX}?ttl=${TTL}`;
    const child = async (storage: string): Promise<Child<{ ns: string }>> => {
      const started = await startChild<{ ns: string }>("etcd-nameserver", [storage]);
      cleanups.push(() => started.stop());
      return started;
    };
    const proxy = async (address: string): Promise<Remote<NameServer>> => {
      const ns = await locateNs({ ns: address, broadcast: false });
      cleanups.push(() => ns.$close());
      return ns;
    };
    const [a, b, m] = [await child(spec), await child(spec), await child("memory")];
    const [nsA, nsB, nsM] = [await proxy(a.info.ns), await proxy(b.info.ns), await proxy(m.info.ns)];
    const raw: Etcd3 = await openEtcdClient([etcd.endpoint]);
    cleanups.push(() => raw.close());
    const rawPut = (key: string): Promise<unknown> => raw.put(key).value(uriOf(0)).exec();
    const ready = performance.now();

    // Warm-up (JIT, connections, etcd's first writes); the watch and slots are checked on the way.
    const viaB = new Arrivals();
    const viaM = new Arrivals();
    const viaWatch = new Arrivals();
    await nsB.registered.connect((name) => viaB.arrived(name));
    await nsM.registered.connect((name) => viaM.arrived(name));
    const watcher: Watcher = await raw.watch().prefix("/bench/raw/").create();
    cleanups.push(() => watcher.cancel());
    watcher.on("put", (kv) => viaWatch.arrived(kv.key.toString()));
    for (let i = 0; i < sizes.warmup; i++) {
      await latency(viaB, `warm.a${i}`, (name) => nsA.register(name, uriOf(i)));
      await latency(viaM, `warm.m${i}`, (name) => nsM.register(name, uriOf(i)));
      await latency(viaWatch, `/bench/raw/warm${i}`, rawPut);
      await nsB.lookup(`warm.a${i}`);
      await nsM.lookup(`warm.m${i}`);
    }

    // Lookups of a name registered through A, answered by B from its view; M holds the same name.
    await nsA.register("bench.looked-up", uriOf(1));
    await nsM.register("bench.looked-up", uriOf(1));
    await viaB.wait("bench.looked-up");
    await viaM.wait("bench.looked-up");
    const lookups = async (ns: Remote<NameServer>): Promise<number> =>
      (await timed(sizes.lookups, async () => {
        for (let i = 0; i < sizes.lookups; i++) await ns.lookup("bench.looked-up");
      })).perSecond;
    // One uncounted round first: B and M are fresh processes whose lookup path V8 has not optimised yet.
    await lookups(nsB);
    await lookups(nsM);
    let [etcdLookups, memoryLookups, etcdRegs, memoryRegs, rawPuts] = [0, 0, 0, 0, 0];
    for (let round = 0; round < sizes.rounds; round++) {
      // Which side goes first alternates, so neither always follows the other's garbage.
      if (round % 2 === 0) {
        etcdLookups = Math.max(etcdLookups, await lookups(nsB));
        memoryLookups = Math.max(memoryLookups, await lookups(nsM));
      } else {
        memoryLookups = Math.max(memoryLookups, await lookups(nsM));
        etcdLookups = Math.max(etcdLookups, await lookups(nsB));
      }

      // New names each round, so every registration is a first one (no replacement).
      const registrations = async (write: (i: number) => Promise<unknown>): Promise<number> =>
        (await timed(sizes.registrations, async () => {
          for (let i = 0; i < sizes.registrations; i++) await write(i);
        })).perSecond;
      etcdRegs = Math.max(etcdRegs, await registrations((i) => nsA.register(`bench.r${round}.n${i}`, uriOf(i))));
      memoryRegs = Math.max(memoryRegs, await registrations((i) => nsM.register(`bench.r${round}.n${i}`, uriOf(i))));
      rawPuts = Math.max(rawPuts, await registrations((i) => rawPut(`/bench/put/r${round}/n${i}`)));
    }

    // Signal latency, the three paths interleaved sample by sample; a short pause between
    // samples lets each process settle, as registrations in a lab arrive one by one.
    const [etcdLatency, memoryLatency, watchLatency]: number[][] = [[], [], []];
    for (let i = 0; i < sizes.signals; i++) {
      etcdLatency.push(await latency(viaB, `bench.signal${i}`, (name) => nsA.register(name, uriOf(i))));
      memoryLatency.push(await latency(viaM, `bench.signal${i}`, (name) => nsM.register(name, uriOf(i))));
      watchLatency.push(await latency(viaWatch, `/bench/raw/signal${i}`, rawPut));
      await sleep(1);
    }
    for (const samples of [etcdLatency, memoryLatency, watchLatency]) samples.sort((x, y) => x - y);
    const p = (samples: readonly number[], pct: number): number => percentile(samples, pct);

    const signal = "registered signal, register on A → slot on B (etcd)";
    const figures = [
      higher("lookups through a proxy, etcd storage", "lookups/s", etcdLookups, memoryLookups, "the same on memory storage"),
      higher("registrations (sequential), etcd storage", "reg/s", etcdRegs, memoryRegs, "the same on memory storage"),
      higher("registrations (sequential), etcd storage", "reg/s", etcdRegs, rawPuts, "raw etcd3 puts, same etcd"),
      lower(`${signal}, p50`, "ms", p(etcdLatency, 50), p(memoryLatency, 50), "register → slot on one memory nameserver"),
      lower(`${signal}, p99`, "ms", p(etcdLatency, 99), p(memoryLatency, 99), "register → slot on one memory nameserver"),
      lower(`${signal}, p50`, "ms", p(etcdLatency, 50), p(watchLatency, 50), "raw etcd3 put → watch event"),
      lower(`${signal}, p99`, "ms", p(etcdLatency, 99), p(watchLatency, 99), "raw etcd3 put → watch event"),
    ];
    const notes = [
      `etcd ${version}, one member on loopback with fsync, data in ${etcd.dataDir}; nameservers A and B on ${PREFIX} (lease TTL ${TTL} s) and M on memory, ` +
        `each a child process; best of ${sizes.rounds} rounds of ${sizes.lookups} lookups and ${sizes.registrations} registrations; ` +
        `${sizes.signals} latency samples per path (after ${sizes.warmup} warm-up ones), max ${p(etcdLatency, 100).toFixed(1)} ms (etcd A → B) / ` +
        `${p(memoryLatency, 100).toFixed(1)} ms (memory) / ${p(watchLatency, 100).toFixed(1)} ms (raw watch); ` +
        `etcd and nameservers ready after ${((ready - started) / 1000).toFixed(1)} s, ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    ];
    return { figures, notes };
  } finally {
    await runCleanups(cleanups, CLEANUP_LIMIT_MS);
  }
}
