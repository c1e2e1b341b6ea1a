/**
 * The figures of FEDERATION.md ("Numbers to reach"), measured on a Simulator; shared by
 * test/federation-sim.test.ts and bench/federation-benchmarks.ts. Times are virtual ms.
 * Each function runs the simulation as far as it needs and leaves it running.
 */
import type { MemberState } from "./member.js";
import type { SimNode, Simulator } from "./simulator.js";

/** The goals of FEDERATION.md these figures are held to. */
export const GOALS = {
  /** A new nameserver known to all its LAN peers. */
  joinMs: 1500,
  /** A crashed nameserver declared dead everywhere, up to 100 nodes... */
  deathMs100: 5000,
  /** ...and at 1,000. */
  deathMs1000: 10_000,
  /** False deaths, 100 nodes, 5 % loss, one node stalled 2 s every 30 s, 10 min. */
  falseDeaths: 0,
  /** Idle traffic per nameserver at 1,000 nodes: 16 kbit/s. */
  idleBytesPerSecond: 2000,
} as const;

/** The death goal for a cluster of `nodes`. */
export function deathGoal(nodes: number): number {
  return nodes <= 100 ? GOALS.deathMs100 : GOALS.deathMs1000;
}

/** Whether every running node holds every other running node alive (and none of the others live). */
export function converged(sim: Simulator): boolean {
  const running = sim.running();
  const ids = new Set(running.map((node) => node.id));
  for (const node of running) {
    let alive = 0;
    for (const [id, state] of node.view) {
      if (ids.has(id)) {
        if (state !== "alive") return false;
        alive++;
      } else if (state === "alive" || state === "suspect") return false;
    }
    if (alive !== running.length - 1) return false;
  }
  return true;
}

/** Runs until `converged`, checked every `everyMs`; returns how long that took, or undefined after `limitMs`. */
export function runUntilConverged(sim: Simulator, limitMs: number, everyMs = 250): number | undefined {
  const start = sim.now;
  for (;;) {
    if (converged(sim)) return sim.now - start;
    if (sim.now - start >= limitMs) return undefined;
    sim.run(everyMs);
  }
}

/**
 * Starts `count` nameservers over `spreadMs` (a crowd switched on together), then runs
 * until they all know each other alive. Throws if that takes more than `limitMs`.
 */
export function startCluster(sim: Simulator, count: number, options: { spreadMs?: number; limitMs?: number; domain?: string } = {}): { nodes: SimNode[]; convergedMs: number } {
  const start = sim.now;
  const spread = options.spreadMs ?? 1000;
  const nodes: SimNode[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + spread * sim.random();
    nodes.push(sim.addNode({ at, ...(options.domain !== undefined && { domain: options.domain }) }));
  }
  sim.runUntil(start + spread);
  const settled = runUntilConverged(sim, options.limitMs ?? 60_000);
  if (settled === undefined) throw new Error(`${count} nodes did not converge within ${options.limitMs ?? 60_000} ms`);
  return { nodes, convergedMs: sim.now - start };
}

/** Whether every running node names the same leader for its domain: the lowest running id there. */
export function leaderAgreement(sim: Simulator): { agreed: boolean; expected: Map<string, string>; named: Set<string> } {
  const running = sim.running();
  const expected = new Map<string, string>();
  for (const node of running) {
    const lowest = expected.get(node.domain);
    if (lowest === undefined || node.id < lowest) expected.set(node.domain, node.id);
  }
  const named = new Set<string>();
  let agreed = true;
  for (const node of running) {
    const leader = node.membership.leaderOf(node.domain);
    named.add(leader ?? "none");
    if (leader !== expected.get(node.domain)) agreed = false;
  }
  return { agreed, expected, named };
}

/**
 * Runs until every running node other than `target` holds it in a state `accept` takes;
 * returns how long that took, or undefined after `limitMs`. Driven by the nodes' events.
 */
export function timeUntilAllHold(sim: Simulator, target: string, accept: (state: MemberState | undefined) => boolean, limitMs: number): number | undefined {
  const start = sim.now;
  const holds = (node: SimNode): boolean => node.id === target || accept(node.view.get(target));
  const all = (): boolean => sim.running().every(holds);
  if (all()) return 0;
  const satisfied = new Set<number>();
  for (const node of sim.running()) if (holds(node)) satisfied.add(node.index);
  let reached = false;
  const off = sim.onEvent((observer, change) => {
    if (reached || change.peer.id !== target) return;
    if (accept(change.peer.state)) satisfied.add(observer.index);
    else satisfied.delete(observer.index);
    if (satisfied.size >= sim.runningCount - 1 && all()) reached = true;
  });
  try {
    sim.runUntil(start + limitMs, () => reached);
  } finally {
    off();
  }
  return reached ? sim.now - start : undefined;
}

/** A new nameserver starts now: how long until every other one holds it alive, and it holds them all alive. */
export function measureJoin(sim: Simulator, limitMs = 10_000): { node: SimNode; knownByAllMs: number | undefined; knowsAllMs: number | undefined } {
  const start = sim.now;
  const node = sim.addNode();
  const knownByAllMs = timeUntilAllHold(sim, node.id, (state) => state === "alive", limitMs);
  const others = (): boolean => sim.running().every((other) => other === node || node.view.get(other.id) === "alive");
  sim.runUntil(start + limitMs, others);
  return { node, knownByAllMs, knowsAllMs: others() ? sim.now - start : undefined };
}

/** `node` crashes now: how long until every running node holds it dead. */
export function measureCrash(sim: Simulator, node: SimNode, limitMs = 30_000): number | undefined {
  sim.crash(node);
  return timeUntilAllHold(sim, node.id, (state) => state === "dead", limitMs);
}

/** `node` stops gracefully now: how long until every running node holds it left. */
export function measureLeave(sim: Simulator, node: SimNode, limitMs = 10_000): number | undefined {
  sim.stop(node);
  return timeUntilAllHold(sim, node.id, (state) => state === "left", limitMs);
}

/** What nodes reported about nodes that never crashed nor left. */
export interface FalseReports {
  /** "dead" events about a running node: the goal is 0. */
  deaths: number;
  /** "left" events about a running node. */
  lefts: number;
  /** "suspect" events about a running node (refuted ones included): a measure of noise. */
  suspicions: number;
  /** The first few false deaths: observer, subject, virtual time. */
  examples: { observer: string; subject: string; at: number }[];
}

/** Counts false reports while `run` runs. */
export function countFalseReports(sim: Simulator, run: () => void): FalseReports {
  const reports: FalseReports = { deaths: 0, lefts: 0, suspicions: 0, examples: [] };
  const off = sim.onEvent((observer, change, now) => {
    if (change.change !== "dead" && change.change !== "left" && change.change !== "suspect") return;
    if (sim.node(change.peer.id)?.status !== "running") return;
    if (change.change === "suspect") reports.suspicions++;
    else if (change.change === "left") reports.lefts++;
    else {
      reports.deaths++;
      if (reports.examples.length < 5) reports.examples.push({ observer: observer.id, subject: change.peer.id, at: now });
    }
  });
  try {
    run();
  } finally {
    off();
  }
  return reports;
}

export interface StallRunOptions {
  readonly durationMs: number;
  /** Message (and beacon) loss during the run; restored after. */
  readonly loss: number;
  readonly stallEveryMs: number;
  readonly stallMs: number;
  /** The node stalled; default one running node at random (by index, from the simulation). */
  readonly stalled?: SimNode;
}

/** FEDERATION.md's false-death run: loss, and one node stalled periodically. */
export function measureFalseDeaths(sim: Simulator, options: StallRunOptions): FalseReports & { stalled: SimNode; stalls: number } {
  const running = sim.running();
  const stalled = options.stalled ?? running[Math.floor(running.length / 2)]!;
  const start = sim.now;
  const loss = sim.network.conditions.loss;
  let stalls = 0;
  // First stall halfway into the first period, so that every stall ends within the run.
  for (let at = start + options.stallEveryMs / 2; at + options.stallMs < start + options.durationMs; at += options.stallEveryMs) {
    sim.at(at, () => {
      stalls++;
      sim.stall(stalled, options.stallMs);
    });
  }
  sim.network.conditions.loss = options.loss;
  try {
    const reports = countFalseReports(sim, () => sim.runUntil(start + options.durationMs));
    return { ...reports, stalled, stalls };
  } finally {
    sim.network.conditions.loss = loss;
  }
}

/** Bytes on the wire per node and second over a stretch of time. */
export interface Traffic {
  /** Messages and beacons sent, mean over running nodes. */
  readonly sentPerSecond: number;
  readonly maxSentPerSecond: number;
  /** Messages and beacons received (every beacon heard counts), mean. */
  readonly receivedPerSecond: number;
  readonly messagesSentPerSecond: number;
}

/** Runs `durationMs` and returns the traffic of the nodes running throughout. */
export function measureTraffic(sim: Simulator, durationMs: number): Traffic {
  const nodes = sim.running();
  const sent = (node: SimNode): number => node.stats.bytesSent + node.stats.beaconBytesSent;
  const received = (node: SimNode): number => node.stats.bytesReceived + node.stats.beaconBytesReceived;
  const before = nodes.map((node) => ({ sent: sent(node), received: received(node), messages: node.stats.messagesSent }));
  sim.run(durationMs);
  const seconds = durationMs / 1000;
  let total = 0;
  let max = 0;
  let totalReceived = 0;
  let messages = 0;
  nodes.forEach((node, i) => {
    const bytes = sent(node) - before[i]!.sent;
    total += bytes;
    max = Math.max(max, bytes);
    totalReceived += received(node) - before[i]!.received;
    messages += node.stats.messagesSent - before[i]!.messages;
  });
  return { sentPerSecond: total / nodes.length / seconds, maxSentPerSecond: max / seconds, receivedPerSecond: totalReceived / nodes.length / seconds, messagesSentPerSecond: messages / nodes.length / seconds };
}

/**
 * The running nodes split in two halves that cannot reach each other until each holds the
 * other half dead (or `splitLimitMs`), then heal: how long until they all hold each other
 * alive again, and agree on the leader.
 */
export function measurePartitionHeal(sim: Simulator, options: { splitLimitMs?: number; healLimitMs?: number } = {}): { splitMs: number | undefined; healedMs: number | undefined; leadersAgree: boolean } {
  const running = sim.running();
  const half = Math.floor(running.length / 2);
  const sides = [running.slice(0, half), running.slice(half)] as const;
  const start = sim.now;
  sim.partition(sides);
  const otherSideDead = (): boolean =>
    sides.every((side, s) => side.every((node) => node.status !== "running" || sides[1 - s]!.every((other) => node.view.get(other.id) === "dead")));
  let splitMs: number | undefined;
  for (;;) {
    sim.run(250);
    if (otherSideDead()) {
      splitMs = sim.now - start;
      break;
    }
    if (sim.now - start >= (options.splitLimitMs ?? 60_000)) break;
  }
  sim.heal();
  const healedMs = runUntilConverged(sim, options.healLimitMs ?? 60_000, 100);
  return { splitMs, healedMs, leadersAgree: leaderAgreement(sim).agreed };
}
