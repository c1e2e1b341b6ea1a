import { connect, locateNs, type Remote } from "../src/index.js";
import type { BenchObject } from "./bench-object.js";
import { runChild, startChild } from "./children.js";
import { cpuMicros, latencies, pipelined, timed } from "./measure.js";
import { RawClient } from "./raw-client.js";

/** One line of the results table: a pyro-ts figure beside its baseline measured in the same run. */
export interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly pyro: number;
  readonly baseline: number;
  readonly baselineName: string;
  /** pyro / baseline, or baseline / pyro where lower is better. */
  readonly ratio: number;
  /** The ratio the issue asks for, when it asks for one. */
  readonly target?: number;
}

export interface Sizes {
  readonly warmup: number;
  readonly sequential: number;
  readonly pipelined: number;
  readonly oneway: number;
  readonly loadMs: number;
  readonly signals: number;
  readonly mib1: number;
  readonly mib64: number;
  readonly lookups: number;
}

const PAYLOAD = "pyro-ts benchmark payload 32 B.."; // the same bytes for both sides
const higher = (name: string, unit: string, pyro: number, baseline: number, baselineName: string, target?: number): Figure => ({
  name, unit, pyro, baseline, baselineName, ratio: pyro / baseline, ...(target !== undefined && { target }),
});
const lower = (name: string, unit: string, pyro: number, baseline: number, baselineName: string): Figure => ({
  name, unit, pyro, baseline, baselineName, ratio: baseline / pyro,
});

interface PyroInfo {
  uri: string;
  secureUri: string;
  ns: string;
}

const WAIT_LIMIT_MS = 120_000;

/** Waits for a condition, checking every turn of the event loop; fails after two minutes instead of spinning forever. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what} did not complete within ${WAIT_LIMIT_MS} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Separate connections for the fan-out subscribers: proxies with equal options share one. */
function ownConnection(i: number): { maxMessageSize: number } {
  return { maxMessageSize: 128 * 1024 * 1024 + i };
}

export async function rpcBenchmarks(sizes: Sizes): Promise<Figure[]> {
  const figures: Figure[] = [];
  const rawServer = await startChild<{ endpoint: string }>("raw-server");
  const pyroServer = await startChild<PyroInfo>("pyro-server");
  const raw = new RawClient(rawServer.info.endpoint);
  const proxy = await connect<BenchObject>(pyroServer.info.uri, { maxMessageSize: 128 * 1024 * 1024 });
  try {
    // Warm up both paths (JIT tiers, connections): the first thousands of calls are much slower.
    for (let i = 0; i < sizes.warmup; i++) {
      await raw.request(["e", PAYLOAD]);
      await proxy.echo(PAYLOAD);
    }

    // Sequential calls, latency, and CPU per call of both processes. Rounds alternate between
    // the two sides and the best round of each counts, so a noisy moment hurts neither alone.
    type Sequential = Awaited<ReturnType<typeof latencies>> & { cpuPerCall: number };
    const sequential = async (call: () => Promise<unknown>, remoteCpu: () => Promise<NodeJS.CpuUsage>): Promise<Sequential> => {
      const before = [process.cpuUsage(), await remoteCpu()] as const;
      const result = await latencies(sizes.sequential, call);
      const cpuPerCall = (cpuMicros(before[0], process.cpuUsage()) + cpuMicros(before[1], await remoteCpu())) / sizes.sequential;
      return { ...result, cpuPerCall };
    };
    const best = (a: Sequential | undefined, b: Sequential): Sequential => (a && a.rate.perSecond >= b.rate.perSecond ? a : b);
    let rawSeq: Sequential | undefined;
    let pyroSeq: Sequential | undefined;
    for (let round = 0; round < 3; round++) {
      rawSeq = best(rawSeq, await sequential(() => raw.request(["e", PAYLOAD]), () => raw.cpu()));
      pyroSeq = best(pyroSeq, await sequential(() => proxy.echo(PAYLOAD), () => proxy.cpu()));
    }
    figures.push(higher("sequential calls", "calls/s", pyroSeq!.rate.perSecond, rawSeq!.rate.perSecond, "raw echo", 0.85));
    figures.push(lower("latency p50", "µs", pyroSeq!.p50, rawSeq!.p50, "raw echo"));
    figures.push(lower("latency p99", "µs", pyroSeq!.p99, rawSeq!.p99, "raw echo"));
    figures.push(lower("CPU per call (both processes)", "µs", pyroSeq!.cpuPerCall, rawSeq!.cpuPerCall, "raw echo"));

    // Pipelined: one connection, 100 in flight.
    const rawPipe = await pipelined(sizes.pipelined, 100, () => raw.request(["e", PAYLOAD]));
    const pyroPipe = await pipelined(sizes.pipelined, 100, () => proxy.echo(PAYLOAD));
    figures.push(higher("pipelined calls (100 in flight)", "calls/s", pyroPipe.perSecond, rawPipe.perSecond, "raw echo", 0.5));

    // What CURVE costs: the same calls to the same object behind an encrypting daemon.
    const secure = await connect<BenchObject>(pyroServer.info.secureUri);
    try {
      for (let i = 0; i < sizes.warmup; i++) await secure.echo(PAYLOAD);
      let plainSeq = 0;
      let secureSeq = 0;
      for (let round = 0; round < 3; round++) {
        plainSeq = Math.max(plainSeq, (await latencies(sizes.sequential, () => proxy.echo(PAYLOAD))).rate.perSecond);
        secureSeq = Math.max(secureSeq, (await latencies(sizes.sequential, () => secure.echo(PAYLOAD))).rate.perSecond);
      }
      figures.push(higher("sequential calls with CURVE", "calls/s", secureSeq, plainSeq, "pyro-ts without CURVE"));
      const securePipe = await pipelined(sizes.pipelined, 100, () => secure.echo(PAYLOAD));
      figures.push(higher("pipelined calls with CURVE", "calls/s", securePipe.perSecond, pyroPipe.perSecond, "pyro-ts without CURVE"));
    } finally {
      await secure.$close();
    }

    // Oneway: a burst, then a barrier until the server has seen all of it.
    const rawBefore = Number((await raw.request(["b"]))[1]!.toString());
    const rawOneway = await timed(sizes.oneway, async () => {
      for (let i = 0; i < sizes.oneway; i++) void raw.send(["o", PAYLOAD]);
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while (Number((await raw.request(["b"]))[1]!.toString()) < rawBefore + sizes.oneway && Date.now() < deadline);
    });
    const pyroBefore = await proxy.received();
    const pyroOneway = await timed(sizes.oneway, async () => {
      const sent: Promise<void>[] = [];
      for (let i = 0; i < sizes.oneway; i++) sent.push(proxy.sink(PAYLOAD));
      await Promise.all(sent);
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while ((await proxy.received()) < pyroBefore + sizes.oneway && Date.now() < deadline);
    });
    figures.push(higher("oneway calls", "calls/s", pyroOneway.perSecond, rawOneway.perSecond, "raw send", 0.7));

    // 10 client processes at once, sequential calls each.
    const load = async (mode: "raw" | "pyro", target: string): Promise<number> => {
      const results = await Promise.all(Array.from({ length: 10 }, () => runChild<{ calls: number }>("load-client", [mode, target, String(sizes.loadMs), PAYLOAD])));
      return results.reduce((n, r) => n + r.calls, 0) / (sizes.loadMs / 1000);
    };
    figures.push(higher("10 client processes", "calls/s", await load("pyro", pyroServer.info.uri), await load("raw", rawServer.info.endpoint), "raw echo"));

    // Signal fan-out to 1 and 10 subscribers.
    for (const subscribers of [1, 10]) {
      const rawSubs = Array.from({ length: subscribers }, () => new RawClient(rawServer.info.endpoint));
      for (const s of rawSubs) await s.request(["s"]);
      const rawFan = await timed(sizes.signals * subscribers, async () => {
        void raw.send(["f", String(sizes.signals)]);
        await until(() => rawSubs.every((s) => s.unsolicited >= sizes.signals), "raw fan-out");
      });
      await Promise.all(rawSubs.map((s) => s.close()));
      const proxies: Remote<BenchObject>[] = [];
      const counts = new Array<number>(subscribers).fill(0);
      for (let i = 0; i < subscribers; i++) {
        const p = await connect<BenchObject>(pyroServer.info.uri, ownConnection(i + 1));
        await p.ticks.connect(() => void counts[i]!++);
        proxies.push(p);
      }
      const pyroFan = await timed(sizes.signals * subscribers, async () => {
        await proxy.emitTicks(sizes.signals);
        await until(() => counts.every((c, i) => c + proxies[i]!.ticks.dropped >= sizes.signals), "pyro-ts fan-out");
      });
      await Promise.all(proxies.map((p) => p.$close()));
      figures.push(higher(`signal fan-out to ${subscribers}`, "events/s", pyroFan.perSecond, rawFan.perSecond, "raw router sends"));
    }

    // Binary transfer: the client sends a Buffer, the server answers its size.
    for (const [label, bytes, count] of [["1 MiB", 1 << 20, sizes.mib1], ["64 MiB", 64 << 20, sizes.mib64]] as const) {
      const data = Buffer.alloc(bytes, 7);
      const rawMove = await timed(count, async () => {
        for (let i = 0; i < count; i++) await raw.request(["a", data]);
      });
      const pyroMove = await timed(count, async () => {
        for (let i = 0; i < count; i++) await proxy.size(data);
      });
      const mbps = (rate: { perSecond: number }): number => (rate.perSecond * bytes) / 1e6;
      figures.push(higher(`${label} Buffer transfer`, "MB/s", mbps(pyroMove), mbps(rawMove), "raw send", label === "64 MiB" ? 0.8 : undefined));
    }

    // Nameserver lookups against sequential calls.
    const ns = await locateNs({ ns: pyroServer.info.ns });
    try {
      for (let i = 0; i < 200; i++) await ns.lookup("bench.object");
      const lookups = await timed(sizes.lookups, async () => {
        for (let i = 0; i < sizes.lookups; i++) await ns.lookup("bench.object");
      });
      const calls = await timed(sizes.lookups, async () => {
        for (let i = 0; i < sizes.lookups; i++) await proxy.echo(PAYLOAD);
      });
      figures.push(higher("nameserver lookups", "lookups/s", lookups.perSecond, calls.perSecond, "pyro-ts sequential calls", 0.8));
    } finally {
      await ns.$close();
    }
  } finally {
    await proxy.$close();
    await raw.close();
    await pyroServer.stop();
    await rawServer.stop();
  }
  return figures;
}
