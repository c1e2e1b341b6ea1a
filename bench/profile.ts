/**
 * Profiles one rpc workload, client and daemon, with V8's CPU profiler:
 *
 *   npm run build
 *   node dist/bench/profile.js --transport tcp --workload sequential --seconds 10 --dir /tmp/prof
 *   node dist/bench/profile-summary.js /tmp/prof/tcp-sequential-*.cpuprofile --per <calls it printed>
 *
 * The daemon is bench/profile-server.ts in a child; this process is the client. Both profile
 * only the measured part: after a warm-up of 5,000 calls, for --seconds, sampling every
 * --interval µs (default 250). The last stdout line gives the calls measured and the profile
 * files. Workloads: sequential calls, pipelined calls (100 in flight), oneway calls (bursts of
 * 10,000 and a barrier), fan-out of a signal to one subscriber (bursts of 2,000), 1 MiB Buffer
 * transfers. `--transport raw-net` profiles the raw node:net echo instead (sequential and
 * pipelined only; its server child, run with --cpu-prof, profiles its whole life into --dir).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { connect, type Remote } from "../src/index.js";
import type { BenchObject } from "./bench-object.js";
import { startChild } from "./children.js";
import { pipelined } from "./measure.js";
import { RawNetClient } from "./raw-net-client.js";

const { values } = parseArgs({
  options: {
    transport: { type: "string", default: "tcp" },
    workload: { type: "string", default: "sequential" },
    seconds: { type: "string", default: "10" },
    interval: { type: "string", default: "250" },
    dir: { type: "string", default: "." },
  },
});
const PAYLOAD = "pyro-ts benchmark payload 32 B..";
const WARMUP = 5000;
const { transport, workload: name, dir, interval } = values as Record<string, string>;
mkdirSync(dir, { recursive: true });
const files = { client: join(dir, `${transport}-${name}-client.cpuprofile`), daemon: join(dir, `${transport}-${name}-daemon.cpuprofile`) };
if (transport === "raw-net") {
  await profileRawNet();
  process.exit(0);
}
const server = await startChild<{ uri: string }>("profile-server", [transport]);
const closers: (() => Promise<void>)[] = [];
let calls = 0;
try {
  const lines = createInterface({ input: server.process.stdout! })[Symbol.asyncIterator]();
  const tell = async (command: string, answer: string): Promise<void> => {
    server.process.stdin!.write(`${command}\n`);
    const { value } = await lines.next();
    if (value !== answer) throw new Error(`profile-server answered ${String(value)} to ${command}`);
  };
  const proxy = await connect<BenchObject>(server.info.uri, { maxMessageSize: 128 * 1024 * 1024 });
  try {
    for (let i = 0; i < WARMUP; i++) await proxy.echo(PAYLOAD);
    const workload = await workloadOf(name, proxy, server.info.uri);
    // The workload's own warm-up (fan-out's subscriber, a first burst), then the measured part.
    await workload();
    await tell(`start ${interval}`, "started");
    await profiled(files.client, async () => {
      const until = Date.now() + Number(values.seconds) * 1000;
      while (Date.now() < until) calls += await workload();
    });
    await tell(`stop ${files.daemon}`, "stopped");
  } finally {
    for (const close of closers) await close();
    await proxy.$close();
  }
} finally {
  await server.stop();
}
process.stdout.write(`${JSON.stringify({ transport, workload: name, calls, files })}\n`);

/** Profiles this process over `run`, into `file`. */
async function profiled(file: string, run: () => Promise<void>): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: Number(interval) });
  await session.post("Profiler.start");
  await run();
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(file, JSON.stringify(profile));
  session.disconnect();
}

async function profileRawNet(): Promise<void> {
  const server = await startChild<{ host: string; port: number }>("raw-net-server", [], ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`]);
  let count = 0;
  try {
    const raw = new RawNetClient(server.info);
    await raw.ready;
    try {
      for (let i = 0; i < WARMUP; i++) await raw.request("e", PAYLOAD);
      const run = name === "pipelined" ? async () => (await pipelined(10_000, 100, () => raw.request("e", PAYLOAD))).count : async () => {
        for (let i = 0; i < 1000; i++) await raw.request("e", PAYLOAD);
        return 1000;
      };
      await profiled(files.client, async () => {
        const until = Date.now() + Number(values.seconds) * 1000;
        while (Date.now() < until) count += await run();
      });
    } finally {
      await raw.close();
    }
  } finally {
    await server.stop();
  }
  process.stdout.write(`${JSON.stringify({ transport, workload: name, calls: count, files: { client: files.client, server: `${dir}/CPU.*.cpuprofile (the child's whole life)` } })}\n`);
}

async function workloadOf(workload: string, proxy: Remote<BenchObject>, uri: string): Promise<() => Promise<number>> {
  switch (workload) {
    case "sequential":
      return async () => {
        for (let i = 0; i < 1000; i++) await proxy.echo(PAYLOAD);
        return 1000;
      };
    case "pipelined":
      return async () => (await pipelined(10_000, 100, () => proxy.echo(PAYLOAD))).count;
    case "oneway":
      return async () => {
        const before = await proxy.received();
        const sent: Promise<void>[] = [];
        for (let i = 0; i < 10_000; i++) sent.push(proxy.sink(PAYLOAD));
        await Promise.all(sent);
        while ((await proxy.received()) < before + 10_000);
        return 10_000;
      };
    case "fanout": {
      // A subscriber on a connection of its own (proxies with equal options share one).
      const subscriber = await connect<BenchObject>(uri, { maxMessageSize: 128 * 1024 * 1024 + 1 });
      closers.push(() => subscriber.$close());
      let received = 0;
      await subscriber.ticks.connect(() => void received++);
      return async () => {
        const target = received + 2000;
        await proxy.emitTicks(2000);
        while (received + subscriber.ticks.dropped < target) await new Promise((resolve) => setImmediate(resolve));
        return 2000;
      };
    }
    case "mib1": {
      const data = Buffer.alloc(1 << 20, 7);
      return async () => {
        for (let i = 0; i < 10; i++) await proxy.size(data);
        return 10;
      };
    }
    default:
      throw new Error(`no workload ${workload} (sequential, pipelined, oneway, fanout, mib1)`);
  }
}
