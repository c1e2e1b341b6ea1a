/**
 * npm run bench [-- --quick] [-- --json file]: every pyro-ts figure beside a baseline measured
 * in the same run (a raw zeromq.js ROUTER/DEALER echo with the same payload and process
 * layout, unless the line says otherwise; for figures "over TCP", a raw node:net
 * length-prefixed echo), and their ratio (>1 means pyro-ts is better): of the best rounds, and
 * where the figure is measured in alternating rounds, "paired": the median over rounds of each
 * round's ratio. Then the rpc figures of both transports side by side with the issue's goals,
 * judged by the paired ratios.
 * Then the federation figures of simulated nameservers, each beside its FEDERATION.md goal
 * (figure / goal: at most 1 meets it). The etcd storage figures (bench/etcd-benchmarks.ts) need
 * the `etcd` binary; without it one line says how to install it and the rest runs. The Pyro5
 * figures (bench/pyro5-benchmarks.ts) need python3 and the Pyro5 kept in test/peers/pyro5;
 * without them one line says why and the rest runs.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { etcdBenchmarks, type EtcdReport, type EtcdSizes } from "./etcd-benchmarks.js";
import { federationBenchmarks, type GoalFigure } from "./federation-benchmarks.js";
import { replicationBenchmarks } from "./replication-benchmarks.js";
import { hostsTable, replicationHostsBenchmark } from "./replication-hosts.js";
import { formatNumber as format } from "./measure.js";
import { pyro5Benchmarks, type Pyro5Report, type Pyro5Sizes } from "./pyro5-benchmarks.js";
import { rpcBenchmarks, transportsTable, type Figure, type Sizes } from "./rpc-benchmarks.js";
import { storeBenchmarks } from "./store-benchmarks.js";
import { streamBenchmarks, type StreamSizes } from "./stream-benchmarks.js";

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, json: { type: "string" } } });

const QUICK: Sizes = { rounds: 3, warmup: 2000, sequential: 2000, pipelined: 5000, oneway: 10_000, loadMs: 1000, signals: 2000, mib1: 20, mib64: 1, lookups: 1000 };
const FULL: Sizes = { rounds: 5, warmup: 10_000, sequential: 20_000, pipelined: 100_000, oneway: 200_000, loadMs: 5000, signals: 20_000, mib1: 300, mib64: 5, lookups: 10_000 };
const STREAM_QUICK: StreamSizes = { warmup: 4000, small: 20_000, mib1: 50, rounds: 3, slowItems: 100, slowMs: 5 };
const STREAM_FULL: StreamSizes = { warmup: 20_000, small: 200_000, mib1: 500, rounds: 3, slowItems: 400, slowMs: 5 };
const ETCD_QUICK: EtcdSizes = { warmup: 50, lookups: 1000, registrations: 100, signals: 100, rounds: 2 };
const ETCD_FULL: EtcdSizes = { warmup: 200, lookups: 10_000, registrations: 1000, signals: 1000, rounds: 3 };
const PYRO5_QUICK: Pyro5Sizes = { rounds: 3, warmup: 5000, sequential: 3000, concurrent: 4000 };
const PYRO5_FULL: Pyro5Sizes = { rounds: 5, warmup: 10_000, sequential: 8000, concurrent: 16_000 };

function table(figures: readonly Figure[]): string {
  const rows = [
    ["figure", "pyro-ts", "baseline", "ratio", "paired", "target", "baseline is"],
    ...figures.map((f) => [f.name, `${format(f.pyro)} ${f.unit}`, `${format(f.baseline)} ${f.unit}`, f.ratio.toFixed(2), f.paired?.toFixed(2) ?? "", f.target === undefined ? "" : `>= ${f.target}`, f.baselineName]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 6 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

function goalTable(figures: readonly GoalFigure[]): string {
  const value = (n: number, unit: string): string => `${Number.isInteger(n) && n < 100 ? String(n) : format(n)} ${unit}`.trimEnd();
  const rows = [["simulated figure", "value", "goal", "value/goal"], ...figures.map((f) => [f.name, value(f.value, f.unit), value(f.goal, f.unit), f.ratio.toFixed(2)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

function etcdTable(report: EtcdReport): string {
  if (report.skipped) return `etcd storage figures skipped: ${report.skipped}`;
  return `${table(report.figures)}\n${report.notes.map((note) => `  ${note}`).join("\n")}`;
}

const started = Date.now();
const sizes = values.quick ? QUICK : FULL;
const rpc = await rpcBenchmarks(sizes);
const streams = await streamBenchmarks(values.quick ? STREAM_QUICK : STREAM_FULL);
const pyro5: Pyro5Report = await pyro5Benchmarks(values.quick ? PYRO5_QUICK : PYRO5_FULL);
const figures = [...rpc.figures, ...streams.figures, ...storeBenchmarks(values.quick ? 10_000 : 100_000), ...pyro5.figures];
const pyro5Notes = pyro5.skipped ? [`Pyro5 figures skipped: ${pyro5.skipped}`] : pyro5.notes;
const streamNotes = [...streams.notes, ...pyro5Notes].map((note) => `  ${note}`).join("\n");
const etcd = await etcdBenchmarks(values.quick ? ETCD_QUICK : ETCD_FULL);
const federation = federationBenchmarks(values.quick);
const notes = federation.notes.map((note) => `  ${note}`).join("\n");
const replication = replicationBenchmarks(values.quick);
const replicationNotes = replication.notes.map((note) => `  ${note}`).join("\n");
const hosts = await replicationHostsBenchmark(values.quick);
process.stdout.write(`${table(figures)}\n${streamNotes}\n\n${transportsTable(rpc.transports)}\n\n${etcdTable(etcd)}\n\n${goalTable(federation.figures)}\n${notes}\n\n${goalTable(replication.figures)}\n${replicationNotes}\n\n${hostsTable(hosts)}\n\n${values.quick ? "quick" : "full"} run, ${((Date.now() - started) / 1000).toFixed(1)} s, node ${process.version}\n`);
if (values.json) {
  writeFileSync(values.json, `${JSON.stringify({ quick: values.quick, node: process.version, date: new Date().toISOString(), figures, transports: rpc.transports, streams: { notes: streams.notes }, pyro5, etcd, federation, replication, hosts }, null, 2)}\n`);
}
