/**
 * Pyro5 interop (#15 part 6): pyro-ts's Pyro5 client calling a Python Pyro5 daemon
 * (bench/pyro5/echo_daemon.py, Pyro5's default thread server) beside Python Pyro5's own client
 * (bench/pyro5/echo_client.py) calling the same daemon, in the same run; and, for context, that
 * Python client calling a pyro-ts Daemon's Pyro5 port beside calling the Python daemon. Calls/s,
 * and CPU per call of the client (sequential) and of the daemon (reverse direction), which a
 * contended machine blurs less. Rounds alternate between the sides and the median round of each
 * counts (the machines are shared and noisy; a median is less flattered by one quiet moment than
 * a best round). Needs python3 and the Pyro5 kept in test/peers/pyro5: without them one line
 * says why and the rest of the bench runs.
 */
import { pyro5 } from "../src/index.js";
import { pyro5Unavailable, startPython } from "../test/pyro5-python.js";
import { startChild } from "./children.js";
import { cpuMicros, median, pipelined, runCleanups, timed, type Rate } from "./measure.js";
import { PYTHON_SCRIPTS, PythonClient, type Round } from "./pyro5/python-client.js";
import type { Figure } from "./rpc-benchmarks.js";

export interface Pyro5Sizes {
  readonly rounds: number;
  /** pyro-ts calls before the first round (V8 optimises the call path meanwhile); Python's client warms up 200 calls per proxy. */
  readonly warmup: number;
  /** Calls per round, one at a time. */
  readonly sequential: number;
  /** Calls per round, CONCURRENCY at a time. */
  readonly concurrent: number;
}

export interface Pyro5Report {
  /** Why there are no figures (no python3, Pyro5 not importable), else undefined. */
  readonly skipped?: string;
  readonly figures: Figure[];
  readonly notes: string[];
}

/** What both daemons serve (bench/pyro5/echo_daemon.py, bench/pyro5/pyro-ts-daemon.ts). */
interface Echo {
  echo(value: string): string;
  /** The daemon process's CPU time (user+sys) so far, in µs. */
  cpu(): number;
}

/** The same 32 bytes as the rpc benchmarks send. */
const PAYLOAD = "pyro-ts benchmark payload 32 B..";
/** Calls in flight: pyro-ts's pool with as many connections, Python with as many threads, each with its own proxy and connection. */
const CONCURRENCY = 8;
/** Longest one cleanup step may take; the stops bound themselves below this. */
const CLEANUP_LIMIT_MS = 8000;

const figure = (name: string, pyro: number, baseline: number, baselineName: string, target?: number): Figure => ({
  name, unit: "calls/s", pyro, baseline, baselineName, ratio: pyro / baseline, ...(target !== undefined && { target }),
});

/**
 * Each side's median round (calls/s and CPU per call, each the median of its own) of `rounds`
 * rounds in which the sides take turns; who goes first rotates, so none always follows another.
 */
async function alternatingMedian(rounds: number, sides: readonly (() => Promise<Round>)[]): Promise<Round[]> {
  const results: Round[][] = sides.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < sides.length; turn++) {
      const i = (turn + round) % sides.length;
      results[i]!.push(await sides[i]!());
    }
  }
  return results.map((r) => ({ perSecond: median(r.map((x) => x.perSecond)), cpuPerCall: median(r.map((x) => x.cpuPerCall)) }));
}

/** A Python client's round, with the CPU the daemon spent per call meanwhile (its own cpu(), asked before and after). */
async function daemonRound(daemon: pyro5.Pyro5Remote<Echo>, client: PythonClient, calls: number): Promise<Round> {
  const before = await daemon.cpu();
  const { perSecond } = await client.round(calls);
  return { perSecond, cpuPerCall: ((await daemon.cpu()) - before) / calls };
}

/** A round of pyro-ts calls, with the CPU this whole process spent per call (as Python's client measures its own). */
async function tsRound(calls: number, run: () => Promise<Rate>): Promise<Round> {
  const before = process.cpuUsage();
  const { perSecond } = await run();
  return { perSecond, cpuPerCall: cpuMicros(before, process.cpuUsage()) / calls };
}

export async function pyro5Benchmarks(sizes: Pyro5Sizes): Promise<Pyro5Report> {
  const unavailable = pyro5Unavailable();
  if (unavailable) return { skipped: `Python Pyro5 cannot run here: ${unavailable}`, figures: [], notes: [] };
  const started = performance.now();
  // Undone in reverse order whatever happens; each step is bounded.
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const pythonDaemon = await startPython(`${PYTHON_SCRIPTS}echo_daemon.py`, []);
    cleanups.push(() => pythonDaemon.stop());
    const pythonUri = pythonDaemon.ready;
    const tsDaemon = await startChild<{ uri: string }>("pyro5/pyro-ts-daemon");
    cleanups.push(() => tsDaemon.stop());
    const python = async (uri: string, serializer: "json" | "serpent", threads: number): Promise<PythonClient> => {
      const client = await PythonClient.start(uri, serializer, threads, PAYLOAD);
      cleanups.push(() => client.stop());
      return client;
    };
    const proxy = async (uri: string, maxConnections: number, serializer: "json" | "serpent" = "json"): Promise<pyro5.Pyro5Remote<Echo>> => {
      const p = await pyro5.connect<Echo>(uri, { maxConnections, serializer });
      cleanups.push(() => p.$close());
      return p;
    };
    const single = await proxy(pythonUri, 1);
    const pool = await proxy(pythonUri, CONCURRENCY);
    const sequentialTs = (): Promise<Round> => tsRound(sizes.sequential, () => timed(sizes.sequential, async () => {
      for (let i = 0; i < sizes.sequential; i++) await single.echo(PAYLOAD);
    }));
    const concurrentTs = (): Promise<Round> => tsRound(sizes.concurrent, () => pipelined(sizes.concurrent, CONCURRENCY, () => pool.echo(PAYLOAD)));
    // Warm-up: V8 optimises the call path, and the pool opens all its connections.
    for (let i = 0; i < sizes.warmup; i++) await single.echo(PAYLOAD);
    await pipelined(sizes.warmup, CONCURRENCY, () => pool.echo(PAYLOAD));

    const figures: Figure[] = [];
    const toPython = "pyro-ts client → Python daemon";
    const pyJson = await python(pythonUri, "json", 1);
    const pySerpent = await python(pythonUri, "serpent", 1);
    const [seqTs, seqJson, seqSerpent] = await alternatingMedian(sizes.rounds, [sequentialTs, () => pyJson.round(sizes.sequential), () => pySerpent.round(sizes.sequential)]);
    figures.push(figure(`Pyro5 sequential calls (${toPython})`, seqTs!.perSecond, seqJson!.perSecond, "Python Pyro5 client, json", 1));
    figures.push(figure(`Pyro5 sequential calls (${toPython})`, seqTs!.perSecond, seqSerpent!.perSecond, "Python Pyro5 client, serpent (its default)", 1));
    // Less at the mercy of a contended machine than the rate: lower is better, so the ratio is Python / pyro-ts.
    const cpu = { ts: seqTs!.cpuPerCall, py: seqJson!.cpuPerCall };
    figures.push({ name: "Pyro5 client CPU per call, sequential (pyro-ts → Python daemon)", unit: "µs", pyro: cpu.ts, baseline: cpu.py, baselineName: "Python Pyro5 client, json", ratio: cpu.py / cpu.ts });

    const pyJsonThreads = await python(pythonUri, "json", CONCURRENCY);
    const pySerpentThreads = await python(pythonUri, "serpent", CONCURRENCY);
    const [conTs, conJson, conSerpent] = await alternatingMedian(sizes.rounds, [concurrentTs, () => pyJsonThreads.round(sizes.concurrent), () => pySerpentThreads.round(sizes.concurrent)]);
    const concurrent = `Pyro5 calls, ${CONCURRENCY} in flight (${toPython})`;
    const threads = `${CONCURRENCY} threads, a proxy each`;
    figures.push(figure(concurrent, conTs!.perSecond, conJson!.perSecond, `Python Pyro5 client, ${threads}, json`, 1));
    figures.push(figure(concurrent, conTs!.perSecond, conSerpent!.perSecond, `Python Pyro5 client, ${threads}, serpent`, 1));

    // The reverse direction, for context: is pyro-ts's daemon as fast as Python's own for a Python client?
    const tsUri = tsDaemon.info.uri;
    const tsDaemonCpu = await proxy(tsUri, 1);
    // Warm-up of the pyro-ts daemon's paths for both serializers, as the bench process's was warmed up.
    const serpentWarmup = await proxy(tsUri, 1, "serpent");
    for (let i = 0; i < sizes.warmup; i++) await Promise.all([tsDaemonCpu.echo(PAYLOAD), serpentWarmup.echo(PAYLOAD)]);
    const same = "the same Python client → Python daemon";
    for (const serializer of ["json", "serpent"] as const) {
      const toTs = await python(tsUri, serializer, 1);
      const toPy = serializer === "json" ? pyJson : pySerpent;
      const [ts, py] = await alternatingMedian(sizes.rounds, [() => daemonRound(tsDaemonCpu, toTs, sizes.sequential), () => daemonRound(single, toPy, sizes.sequential)]);
      figures.push(figure(`Pyro5 sequential calls (Python client, ${serializer} → pyro-ts daemon)`, ts!.perSecond, py!.perSecond, same));
      figures.push({ name: `Pyro5 daemon CPU per call (Python client, ${serializer} → pyro-ts daemon)`, unit: "µs", pyro: ts!.cpuPerCall, baseline: py!.cpuPerCall, baselineName: "Python Pyro5 daemon, same client", ratio: py!.cpuPerCall / ts!.cpuPerCall });
    }
    const toTsThreads = await python(tsUri, "json", CONCURRENCY);
    const [tsThreads, pyThreads] = await alternatingMedian(sizes.rounds, [() => toTsThreads.round(sizes.concurrent), () => pyJsonThreads.round(sizes.concurrent)]);
    figures.push(figure(`Pyro5 calls, ${CONCURRENCY} threads (Python client, json → pyro-ts daemon)`, tsThreads!.perSecond, pyThreads!.perSecond, same));

    const notes = [
      `Python Pyro5 5.15 (thread server) on ${pyJson.python}, all on 127.0.0.1; median of ${sizes.rounds} alternating rounds of ${sizes.sequential} sequential / ` +
        `${sizes.concurrent} concurrent calls of a 32-byte string; pyro-ts: pyro5.connect, json, a pool of ${CONCURRENCY} connections with ${CONCURRENCY} calls in flight; ` +
        `Python: ${threads}; ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    ];
    return { figures, notes };
  } finally {
    await runCleanups(cleanups, CLEANUP_LIMIT_MS);
  }
}
