import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { pyro5Unavailable } from "./pyro5-python.js";

const run = promisify(execFile);

// Keeps `npm run bench` from rotting: the quick mode runs every benchmark once. No timing is asserted.
it("npm run bench --quick measures every figure beside its baseline", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pyro-ts-bench-test-"));
  try {
    const file = join(dir, "bench.json");
    const { stdout } = await run(process.execPath, ["--expose-gc", "dist/bench/run.js", "--quick", "--json", file], { timeout: 150_000 });
    expect(stdout).toMatch(/^figure\s+pyro-ts\s+baseline\s+ratio/);
    const report = JSON.parse(readFileSync(file, "utf8")) as { quick: boolean; figures: { name: string; pyro: number; baseline: number; ratio: number; paired?: number; baselineName?: string }[]; etcd: { skipped?: string; figures?: { name: string; ratio: number }[] }; pyro5: { skipped?: string } };
    expect(report.quick).toBe(true);
    const names = report.figures.map((f) => f.name);
    for (const expected of ["sequential calls", "pipelined calls (100 in flight)", "pipelined calls to an async method", "pipelined calls to an async method over TCP", "oneway calls", "10 client processes", "signal fan-out to 10", "64 MiB Buffer transfer", "nameserver lookups", "memory per registration (memory store)", "stream of small items", "stream of 1 MiB Buffers (items/s = MiB/s)", "daemon rss under a slow reader (peak)", "daemon Buffers held under a slow reader (after GC)"]) {
      expect(names).toContain(expected);
    }
    // Each rpc figure is measured over both transports, each beside its own raw baseline.
    for (const expected of ["sequential calls", "pipelined calls (100 in flight)", "oneway calls", "64 MiB Buffer transfer"]) {
      expect(names).toContain(`${expected} over TCP`);
      expect(report.figures.find((f) => f.name === `${expected} over TCP`)?.baselineName).toMatch(/node:net/);
      // Measured in alternating rounds: the median of the rounds' ratios beside the ratio of the bests.
      for (const name of [expected, `${expected} over TCP`]) expect(report.figures.find((f) => f.name === name)?.paired, name).toBeGreaterThan(0);
    }
    expect(names.filter((n) => n.startsWith("list by prefix"))).toHaveLength(3);
    // etcd's figures when etcd is installed (CI installs it), else the reason they were skipped.
    if (report.etcd.skipped === undefined) expect(report.etcd.figures!.length).toBeGreaterThan(0);
    else expect(report.etcd.skipped).toMatch(/etcd/);
    // The Pyro5 figures when Python Pyro5 can run here (CI has it), else the reason they were skipped.
    const pyro5Figures = ["Pyro5 sequential calls (pyro-ts client → Python daemon)", "Pyro5 calls, 8 in flight (pyro-ts client → Python daemon)", "Pyro5 sequential calls (Python client, json → pyro-ts daemon)"];
    if (pyro5Unavailable() === undefined) {
      expect(report.pyro5.skipped).toBeUndefined();
      for (const expected of pyro5Figures) expect(names).toContain(expected);
      // Beside Python's own client with json and with serpent.
      expect(report.figures.filter((f) => f.name === pyro5Figures[0]).map((f) => f.baselineName)).toEqual(["Python Pyro5 client, json", "Python Pyro5 client, serpent (its default)"]);
    } else {
      expect(report.pyro5.skipped).toMatch(/python3|Pyro5/);
      expect(names.filter((n) => n.startsWith("Pyro5 "))).toEqual([]);
    }
    for (const figure of report.figures) {
      expect(figure.pyro, figure.name).toBeGreaterThan(0);
      expect(figure.baseline, figure.name).toBeGreaterThan(0);
      expect(Number.isFinite(figure.ratio), figure.name).toBe(true);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

// Keeps the paired comparison (bench/paired.ts) from rotting: a few small rounds, each side against the other.
it("bench/paired.js compares pyro-ts with its raw baseline in alternating rounds and prints the median of their ratios", async () => {
  for (const transport of ["tcp", "zmq"]) {
    const { stdout } = await run(process.execPath, ["dist/bench/paired.js", "--transport", transport, "--workload", "sequential", "--rounds", "3", "--calls", "200", "--warmup", "200"], { timeout: 60_000 });
    expect(stdout).toMatch(/^sequential calls, 3 rounds of 200:/);
    expect(stdout).toMatch(new RegExp(`pyro-ts ${transport}: median \\d+ calls/s`));
    expect(stdout).toMatch(transport === "tcp" ? /raw node:net: median \d+ calls\/s/ : /raw zeromq\.js: median \d+ calls\/s/);
    const ratio = /median of the rounds' (\d+\.\d+)/.exec(stdout);
    expect(Number(ratio?.[1])).toBeGreaterThan(0);
  }
}, 150_000);
