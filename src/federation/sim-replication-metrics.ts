/**
 * The replication figures of issue 10 (part 6), measured on a ReplicationSimulator; shared
 * by test/federation-replication-sim.test.ts and bench/replication-benchmarks.ts. Times
 * are virtual ms. Each function runs the simulation as far as it needs and leaves it running.
 */
import { compareClaims, type NameRecord } from "./name-record.js";
import { ReplicationSimulator, type ReplicaSimNode } from "./sim-replication.js";

/** The goals these figures are held to (issue 10, part 6). */
export const REPLICATION_GOALS = {
  /** One registration seen by all of 1,000 nameservers, no loss... */
  seenByAllMs: 2000,
  /** ...and with 10 % loss. */
  seenByAllLossyMs: 3000,
  /** Messages sent per nameserver per change, at 1,000. */
  messagesPerNodePerChange: 16,
  /** A healed partition reconverged. */
  reconvergeMs: 5000,
} as const;

/** A random node of `nodes`, from the simulation's generator. */
export function pick<T>(sim: ReplicationSimulator, items: readonly T[]): T {
  return items[Math.floor(sim.random() * items.length)]!;
}

/**
 * Registers a fresh name on a random node now, and runs until every node looks it up as
 * that node's; returns how long that took (undefined after `limitMs`) and the replica
 * messages every node sent meanwhile.
 */
export function measureRegistration(sim: ReplicationSimulator, name: string, limitMs: number): { ms: number | undefined; messages: number } {
  const origin = pick(sim, sim.nodes);
  const start = sim.now;
  const sentBefore = sim.messagesSent();
  const seen = new Set<number>([origin.index]);
  const off = sim.onEvent((node, event) => {
    if (event.kind === "registered" && event.name === name && event.origin === origin.id) seen.add(node.index);
  });
  try {
    sim.register(origin, name, `PYRO:obj_${sim.now.toFixed(0)}@10.0.0.1:4000`);
    sim.runUntil(start + limitMs, () => seen.size === sim.nodes.length);
  } finally {
    off();
  }
  const all = sim.nodes.every((node) => node.replica.lookup(name)?.origin === origin.id);
  return { ms: all ? sim.now - start : undefined, messages: sim.messagesSent() - sentBefore };
}

/**
 * The marginal cost of a change: replica messages sent in `windowMs` with `changes`
 * registrations made at its start (on random nodes, 50 ms apart), minus those sent in an
 * idle window as long just before (anti-entropy summaries), per node per change. Also the
 * pushes alone, and the idle rate.
 */
export function measureChangeCost(sim: ReplicationSimulator, changes: number, windowMs: number, prefix: string): { perNodePerChange: number; pushesPerNodePerChange: number; idlePerNodePerSecond: number; converged: boolean } {
  const n = sim.nodes.length;
  const idleStart = sim.messagesSent();
  sim.run(windowMs);
  const idle = sim.messagesSent() - idleStart;
  const before = sim.messagesSent();
  const pushesBefore = sim.traffic().push?.messages ?? 0;
  const start = sim.now;
  const names: [string, string][] = [];
  for (let i = 0; i < changes; i++) {
    sim.at(start + 50 * i, () => {
      const origin = pick(sim, sim.nodes);
      const name = `${prefix}.${i}`;
      names.push([name, origin.id]);
      sim.register(origin, name, `PYRO:obj_${i}@10.0.0.1:4000`);
    });
  }
  sim.runUntil(start + windowMs);
  const busy = sim.messagesSent() - before;
  const pushes = (sim.traffic().push?.messages ?? 0) - pushesBefore;
  const converged = names.length === changes && sim.nodes.every((node) => names.every(([name, origin]) => node.replica.lookup(name)?.origin === origin));
  return {
    perNodePerChange: (busy - idle) / n / changes,
    pushesPerNodePerChange: pushes / n / changes,
    idlePerNodePerSecond: idle / n / (windowMs / 1000),
    converged,
  };
}

/** How a partition scenario runs. */
export interface PartitionPlan {
  readonly seed: () => number;
  /** Nodes on each side. */
  readonly side: number;
  /** Names registered (spread over every node) before the partition. */
  readonly baseNames: number;
  /** Changes made on each side while partitioned. */
  readonly changesPerSide: number;
  /** How long the partition lasts; the changes are made over its first half. */
  readonly partitionMs: number;
  /**
   * "reported": membership declares the other side dead `detectMs` into the partition and
   * alive again at the heal (the common case); "unnoticed": the partition is shorter than
   * failure detection and membership reports nothing, so only anti-entropy repairs it.
   */
  readonly membership: "reported" | "unnoticed";
  readonly detectMs?: number;
  readonly loss?: number;
  readonly limitMs?: number;
}

/** What a healed partition left on every node. */
export interface PartitionOutcome {
  /** From the heal until every node shows the expected view; undefined after `limitMs`. */
  readonly reconvergeMs: number | undefined;
  /** Names some origin holds registered that some node does not show. */
  readonly lost: number;
  /** Names no origin holds registered that some node shows. */
  readonly resurrected: number;
  /** Names some node shows with another origin or version than the expected winner. */
  readonly wrong: number;
  /** Names claimed by more than one origin, as the scenario made them. */
  readonly expectedConflicts: number;
  /** Conflicts each node lists (name, winner, losers), as distinct lists: 1 when every node agrees. */
  readonly conflictViews: number;
  /** Conflicts the first node lists. */
  readonly conflicts: number;
  /** Whether every node's conflict list is the expected one. */
  readonly conflictsExpected: boolean;
  /** During the partition: other side's names shown by a node, at most (0 once membership reported them dead). */
  readonly shownAcrossDuringPartition: number;
  readonly changes: { readonly registrations: number; readonly removals: number; readonly metadata: number; readonly contested: number };
  readonly messagesRefused: number;
  /** Replica messages sent from the heal until reconverged (or the limit), per node. */
  readonly healMessagesPerNode: number;
}

type Model = Map<string, Map<string, { uri: string; metadata: string[] }>>;

/**
 * Two sides of `plan.side` nodes share `baseNames`, are partitioned, each makes
 * `changesPerSide` changes (registrations, some of names the other side claims too,
 * re-registrations, removals, metadata), then heal. The expected view comes from what the
 * scenario did (an independent model), the winners of contested names from the origins'
 * own claims (the rule: earliest claim, then lowest origin).
 */
export function runPartitionScenario(plan: PartitionPlan): PartitionOutcome {
  const sim = new ReplicationSimulator({ random: plan.seed, nodes: 2 * plan.side, network: { loss: plan.loss ?? 0 } });
  const sides = [sim.nodes.slice(0, plan.side), sim.nodes.slice(plan.side)] as const;
  const model: Model = new Map(sim.nodes.map((node) => [node.id, new Map()]));
  const counts = { registrations: 0, removals: 0, metadata: 0, contested: 0 };
  const register = (node: ReplicaSimNode, name: string): void => {
    const uri = `PYRO:obj_${counts.registrations}@10.0.${node.index}.1:4000`;
    sim.register(node, name, uri);
    model.get(node.id)!.set(name, { uri, metadata: [] });
  };
  for (let i = 0; i < plan.baseNames; i++) register(sim.nodes[i % sim.nodes.length]!, `base.${i}`);
  sim.run(10_000);

  const start = sim.now;
  sim.partition([sides[0], sides[1]]);
  const detect = plan.detectMs ?? 5000;
  if (plan.membership === "reported") {
    sim.at(start + detect, () => crossPairs(sides, (a, b) => sim.memberDown(a, b)));
  }
  // Contested names come from one list both sides draw from, so many are claimed on both.
  const contested = Array.from({ length: Math.max(1, Math.floor(plan.changesPerSide / 10)) }, (_, i) => `contested.${i}`);
  let fresh = 0;
  for (const [s, side] of sides.entries()) {
    for (let i = 0; i < plan.changesPerSide; i++) {
      sim.at(start + (plan.partitionMs / 2) * sim.random(), () => {
        const node = pick(sim, side);
        const own = [...model.get(node.id)!.keys()];
        const roll = sim.random();
        if (roll < 0.15) {
          const name = pick(sim, contested);
          // Already its own: a fresh name instead, so every contested claim is a new one.
          if (model.get(node.id)!.has(name)) register(node, `side${s}.${fresh++}`);
          else {
            counts.contested++;
            register(node, name);
          }
        } else if (roll < 0.5 || own.length === 0) {
          // Mostly new names; some re-registrations of its own (a new URI, same claim).
          register(node, roll < 0.45 || own.length === 0 ? `side${s}.${fresh++}` : pick(sim, own));
        } else if (roll < 0.75) {
          const name = pick(sim, own);
          sim.remove(node, name);
          model.get(node.id)!.delete(name);
          counts.removals++;
          return;
        } else {
          const name = pick(sim, own);
          const metadata = [`tag${Math.floor(sim.random() * 1000)}`];
          sim.setMetadata(node, name, metadata);
          model.get(node.id)!.get(name)!.metadata = metadata;
          counts.metadata++;
          return;
        }
        counts.registrations++;
      });
    }
  }
  let shownAcross = 0;
  sim.at(start + plan.partitionMs - 1, () => {
    for (const [s, side] of sides.entries()) {
      const others = new Set(sides[1 - s]!.map((node) => node.id));
      for (const node of side) shownAcross = Math.max(shownAcross, node.replica.list().filter((r) => others.has(r.origin)).length);
    }
  });
  sim.runUntil(start + plan.partitionMs);
  sim.heal();
  const sentAtHeal = sim.messagesSent();
  if (plan.membership === "reported") crossPairs(sides, (a, b) => sim.memberUp(a, b));
  const healed = sim.now;
  const expected = expectedView(sim, model);
  const limit = plan.limitMs ?? 60_000;
  const agrees = (): boolean => sim.nodes.every((node) => sameView(node.replica.list(), expected.winners));
  let reconvergeMs: number | undefined;
  for (;;) {
    if (agrees()) {
      reconvergeMs = sim.now - healed;
      break;
    }
    if (sim.now - healed >= limit) break;
    sim.run(10);
  }
  return {
    reconvergeMs,
    ...compare(sim, expected),
    shownAcrossDuringPartition: shownAcross,
    changes: counts,
    messagesRefused: sim.nodes.reduce((sum, node) => sum + node.stats.refused, 0),
    healMessagesPerNode: (sim.messagesSent() - sentAtHeal) / sim.nodes.length,
  };
}

function crossPairs(sides: readonly [readonly ReplicaSimNode[], readonly ReplicaSimNode[]], action: (a: ReplicaSimNode, b: ReplicaSimNode) => void): void {
  for (const a of sides[0]) {
    for (const b of sides[1]) {
      action(a, b);
      action(b, a);
    }
  }
}

interface Expected {
  /** The winner every node should show, by name. */
  readonly winners: Map<string, NameRecord>;
  /** Names claimed by more than one origin. */
  readonly contested: Set<string>;
}

/** The view every node should show: the model's names, each won by the earliest of its origins' own claims. */
function expectedView(sim: ReplicationSimulator, model: Model): Expected {
  const winners = new Map<string, NameRecord>();
  const claimants = new Map<string, number>();
  for (const node of sim.nodes) {
    const own = new Map(node.replica.records(node.id).map((record) => [record.name, record]));
    for (const [name, { uri, metadata }] of model.get(node.id)!) {
      const record = own.get(name);
      // The origin must hold what the scenario did; a mismatch is a bug in the core's local side.
      if (!record || record.uri !== uri || record.metadata.join() !== metadata.join()) throw new Error(`origin ${node.id} does not hold ${name} as registered`);
      claimants.set(name, (claimants.get(name) ?? 0) + 1);
      const best = winners.get(name);
      if (!best || compareClaims(record, best) < 0) winners.set(name, record);
    }
  }
  return { winners, contested: new Set([...claimants].filter(([, n]) => n > 1).map(([name]) => name)) };
}

function sameView(list: readonly NameRecord[], winners: ReadonlyMap<string, NameRecord>): boolean {
  if (list.length !== winners.size) return false;
  for (const record of list) {
    const want = winners.get(record.name);
    if (!want || want.origin !== record.origin || want.version !== record.version) return false;
  }
  return true;
}

function compare(sim: ReplicationSimulator, expected: Expected): Omit<PartitionOutcome, "reconvergeMs" | "shownAcrossDuringPartition" | "changes" | "messagesRefused" | "healMessagesPerNode"> {
  const lost = new Set<string>();
  const resurrected = new Set<string>();
  const wrong = new Set<string>();
  const views = new Set<string>();
  const expectedConflicts = JSON.stringify([...expected.contested].sort());
  let conflictsExpected = true;
  let conflicts = -1;
  for (const node of sim.nodes) {
    const shown = new Map(node.replica.list().map((record) => [record.name, record]));
    for (const name of expected.winners.keys()) if (!shown.has(name)) lost.add(name);
    for (const [name, record] of shown) {
      const want = expected.winners.get(name);
      if (!want) resurrected.add(name);
      else if (want.origin !== record.origin || want.version !== record.version) wrong.add(name);
    }
    const list = node.replica.conflicts();
    if (conflicts < 0) conflicts = list.length;
    views.add(JSON.stringify(list.map((c) => [c.name, c.winner.origin, c.losers.map((l) => l.origin)])));
    if (JSON.stringify(list.map((c) => c.name)) !== expectedConflicts) conflictsExpected = false;
  }
  return { lost: lost.size, resurrected: resurrected.size, wrong: wrong.size, expectedConflicts: expected.contested.size, conflictViews: views.size, conflicts, conflictsExpected };
}
