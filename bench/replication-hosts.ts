/**
 * The real-host replication figure of issue 10 (part 6): 10 federated nameservers, each in
 * its own network namespace on one bridge (test/netns/lab-network.ts), a registration on
 * one seen by all. A watcher on each host stamps every `registered` event with Date.now();
 * a registrar on h1 stamps each registration just before its call. All namespaces share
 * the machine's clock, so each (name, host) latency is the difference of the two stamps.
 * Printed beside its goal (p99 <= 500 ms) and beside a baseline of the same run: the round
 * trip of a nameserver lookup from h1 to h2's nameserver. Needs root and iproute2; else skipped.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { NodeChild } from "../test/node-child.js";
import { CLI, LabNetwork, netnsAvailable } from "../test/netns/lab-network.js";
import { nsOf, spawnScript } from "../test/netns/lab-names.js";

const WATCHER = fileURLToPath(new URL("./hosts-watcher.js", import.meta.url));
const REGISTRAR = fileURLToPath(new URL("./hosts-registrar.js", import.meta.url));

const HOSTS = 10;
const GOAL_P99_MS = 500;
const PACE_MS = 20;
const LOOKUPS = 200;
/** How long after the last registration a missing event is waited for; a miss counts as this. */
const STRAGGLER_MS = 5000;

export interface HostFigure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly goal: number;
  /** value / goal: at most 1 meets it. */
  readonly ratio: number;
  readonly baseline: number;
  readonly baselineName: string;
}

export interface HostsReport {
  /** Why the figures are missing (no namespaces here), else undefined. */
  readonly skipped?: string;
  readonly figures: HostFigure[];
  readonly notes: string[];
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Bounded wait for a line, as NodeChild does, with its stderr in the failure. */
async function line(child: NodeChild, matches: (l: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  try {
    return await child.waitForLine(matches, timeoutMs, what);
  } catch (error) {
    throw new Error(`${child.name}: ${(error as Error).message}; stderr: ${child.stderr.slice(-1000)}`);
  }
}

/** Polls every 50 ms until `done()` or `timeoutMs`; whether it was done. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The figure, or why it was skipped; 30 names in quick mode, 200 otherwise. */
export async function replicationHostsBenchmark(quick: boolean): Promise<HostsReport> {
  const unavailable = netnsAvailable();
  if (unavailable) return { skipped: `network namespaces cannot be made here: ${unavailable}`, figures: [], notes: [] };
  const missing = [CLI, WATCHER, REGISTRAR].find((file) => !existsSync(file));
  if (missing) return { skipped: `${missing} is missing (build first)`, figures: [], notes: [] };

  const names = quick ? 30 : 200;
  const started = Date.now();
  const children: NodeChild[] = [];
  const lab = await LabNetwork.create({ hosts: Array.from({ length: HOSTS }, () => 0) });
  try {
    const hosts = lab.hosts.map((h) => h.name);
    const nameservers = hosts.map((host) => lab.spawn(host, ["nameserver", "-n", lab.host(host).address, "--federate", "lab"]));
    children.push(...nameservers);
    await Promise.all(nameservers.map((ns) => line(ns, (l) => l.startsWith("nameserver running at "), 20_000, "the nameserver serving")));
    const served = Date.now();
    const watchers = hosts.map((host) => {
      const child = spawnScript(lab, host, WATCHER, [nsOf(lab, host), String(HOSTS)]);
      children.push(child);
      return child;
    });
    // Membership first: every table lists all 10 alive (each watcher checks its own host's).
    await Promise.all(watchers.map((w) => line(w, (l) => l === "ready", 30_000, `${HOSTS} alive in the table`)));
    const converged = Date.now();

    const [from, to] = [hosts[0]!, hosts[1]!];
    const registrar = spawnScript(lab, from, REGISTRAR, [nsOf(lab, from), nsOf(lab, to), String(names), String(PACE_MS), String(LOOKUPS), lab.host(from).address]);
    children.push(registrar);
    await line(registrar, (l) => l === "done", 30_000 + names * PACE_MS, "all registrations made");
    const registeredAt = new Map<string, number>();
    const lookups: number[] = [];
    for (const l of registrar.lines) {
      const [kind, value, name] = l.split(" ");
      if (kind === "register") registeredAt.set(name!, Number(value));
      else if (kind === "lookup") lookups.push(Number(value));
    }
    // Stamps are parsed from lines already printed; counted per watcher, its own `ready` excluded.
    const seen = (w: NodeChild): number => w.lines.filter((l) => l !== "ready").length;
    const complete = await until(() => watchers.every((w) => seen(w) >= names), STRAGGLER_MS);

    const latencies: number[] = [];
    let missed = 0;
    for (const w of watchers) {
      const at = new Map(w.lines.filter((l) => l !== "ready").map((l) => [l.split(" ")[1]!, Number(l.split(" ")[0])] as const));
      for (const [name, sent] of registeredAt) {
        const got = at.get(name);
        if (got === undefined) missed++;
        latencies.push(got === undefined ? STRAGGLER_MS : got - sent);
      }
    }
    latencies.sort((a, b) => a - b);
    lookups.sort((a, b) => a - b);
    const baseline = percentile(lookups, 50);
    const baselineName = `lookup round trip ${from} -> ${to}'s nameserver, median of ${lookups.length}`;
    const pairs = `${names} names x ${HOSTS} hosts`;
    const figure = (stat: string, value: number): HostFigure => ({ name: `registration seen by all, ${HOSTS} hosts (netns), ${stat} of ${pairs}`, unit: "ms", value, goal: GOAL_P99_MS, ratio: value / GOAL_P99_MS, baseline, baselineName });
    const figures = [figure("p50", percentile(latencies, 50)), figure("p99", percentile(latencies, 99)), figure("max", latencies[latencies.length - 1]!)];
    const notes = [
      `real hosts: ${HOSTS} network namespaces on one bridge, a federated nameserver each; names registered on ${from} one every ${PACE_MS} ms, ` +
        `latency = watcher's Date.now() at the \`registered\` event - registrar's Date.now() before the call (one clock), ${from}'s own watcher included; ` +
        `${missed} of ${registeredAt.size * HOSTS} (name, host) pairs missed (counted as ${STRAGGLER_MS} ms)${complete ? "" : ", some never arrived"}; ` +
        `lookup round trip p99 ${percentile(lookups, 99).toFixed(2)} ms; nameservers served after ${((served - started) / 1000).toFixed(1)} s, ` +
        `all tables listed ${HOSTS} alive after ${((converged - started) / 1000).toFixed(1)} s, ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
    ];
    return { figures, notes };
  } finally {
    for (const child of children) child.process.stdin?.end();
    await Promise.all(children.map((c) => c.kill("SIGKILL", 5000).catch(() => {})));
    await lab.destroy();
  }
}

/** The figures as a table: value, goal, value/goal, then the baseline and value/baseline. */
export function hostsTable(report: HostsReport): string {
  if (report.skipped) return `real-host figure (10 nameservers in network namespaces) skipped: ${report.skipped}`;
  const num = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toPrecision(3));
  const rows = [
    ["real figure", "value", "goal", "value/goal", "baseline", "value/baseline", "baseline is"],
    ...report.figures.map((f) => [f.name, `${num(f.value)} ${f.unit}`, `${num(f.goal)} ${f.unit}`, f.ratio.toFixed(2), `${num(f.baseline)} ${f.unit}`, (f.value / f.baseline).toFixed(1), f.baselineName]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => (c === 0 || c === 6 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd()).join("\n");
  return `${table}\n${report.notes.map((n) => `  ${n}`).join("\n")}`;
}
