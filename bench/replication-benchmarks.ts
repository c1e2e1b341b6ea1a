/**
 * The registry replication figures of issue 10 (part 6), measured on simulated nameservers
 * (src/federation/sim-replication.ts: one RegistryReplica each over a fixed, converged
 * membership, virtual clock, seeded, so each figure is the same on every run and machine).
 * Each is printed beside its goal, with figure / goal (at most 1 meets it).
 */
import type { FederationReport, GoalFigure } from "./federation-benchmarks.js";
import { REPLICATION_GOALS, measureChangeCost, measureRegistration, runPartitionScenario, type PartitionOutcome } from "../src/federation/sim-replication-metrics.js";
import { ReplicationSimulator } from "../src/federation/sim-replication.js";
import { prng } from "../test/seeded.js";
import { median } from "./measure.js";

const SEED = 20_240_612;

function figure(name: string, unit: string, value: number, goal: number): GoalFigure {
  return { name, unit, value, goal, ratio: goal === 0 ? (value === 0 ? 0 : Infinity) : value / goal };
}

interface Plan {
  readonly nodes: number;
  readonly trials: number;
  readonly changes: number;
  readonly changesPerSide: number;
}

/** Registration trials on one cluster: seen-by-all times (a miss counts as the limit), and the cost of a change. */
function spread(plan: Plan, loss: number, figures: GoalFigure[], notes: string[]): void {
  const n = plan.nodes;
  const limit = 30_000;
  const goal = loss === 0 ? REPLICATION_GOALS.seenByAllMs : REPLICATION_GOALS.seenByAllLossyMs;
  const sim = new ReplicationSimulator({ random: prng(SEED + n + loss * 100), nodes: n, network: { loss } });
  sim.run(5000);
  const times: number[] = [];
  let missed = 0;
  for (let trial = 0; trial < plan.trials; trial++) {
    const { ms } = measureRegistration(sim, `lab.trial${trial}`, limit);
    if (ms === undefined) missed++;
    times.push(ms ?? limit);
    sim.run(3000);
  }
  const label = `${loss * 100} % loss`;
  const trials = `${plan.trials} trials`;
  figures.push(figure(`registration seen by all, ${n} nodes, ${label}, median of ${trials}`, "ms", median(times), goal));
  figures.push(figure(`registration seen by all, ${n} nodes, ${label}, max of ${trials}`, "ms", Math.max(...times), goal));
  const cost = measureChangeCost(sim, plan.changes, 10_000, "cost");
  figures.push(figure(`replica messages sent per node per change, ${n} nodes, ${label}`, "", cost.perNodePerChange, REPLICATION_GOALS.messagesPerNodePerChange));
  notes.push(
    `${n} nodes, ${label}: ${missed} of ${plan.trials} registrations missed the ${limit / 1000} s limit; per change ${cost.pushesPerNodePerChange.toFixed(2)} pushes per node ` +
      `(the rest: digests and records of anti-entropy repairs), over an idle ${cost.idlePerNodePerSecond.toFixed(2)} summaries per node per s; ${plan.changes} changes all seen by all: ${cost.converged ? "yes" : "no"}`,
  );
}

function partition(plan: Plan, membership: "reported" | "unnoticed", figures: GoalFigure[], notes: string[]): void {
  const o: PartitionOutcome = runPartitionScenario({ seed: prng(SEED + 7), side: 5, baseNames: 1000, changesPerSide: plan.changesPerSide, partitionMs: 30_000, membership, limitMs: 60_000 });
  // "reported": membership held the other side dead, alive again at the heal; "unnoticed": it never noticed.
  const label = `partition 2 x 5 (${membership}), ${plan.changesPerSide} changes a side`;
  figures.push(figure(`${label}: reconverged after heal (10 ms steps)`, "ms", o.reconvergeMs ?? 60_000, REPLICATION_GOALS.reconvergeMs));
  figures.push(figure(`${label}: names lost`, "", o.lost, 0));
  figures.push(figure(`${label}: names resurrected`, "", o.resurrected, 0));
  figures.push(figure(`${label}: conflict lists differing`, "", o.conflictViews - 1, 0));
  const { registrations, removals, metadata, contested } = o.changes;
  notes.push(
    `partition (${membership}): ${registrations} registrations (${contested} of contested names), ${removals} removals, ${metadata} metadata changes over both sides; ` +
      `after heal ${o.conflicts} conflicts listed on every node (${o.expectedConflicts} names claimed twice, lists as expected: ${o.conflictsExpected ? "yes" : "no"}), ` +
      `${o.wrong} names with a wrong winner or version; the other side's names shown during the partition: up to ${o.shownAcrossDuringPartition}; ` +
      `${o.healMessagesPerNode.toFixed(1)} messages per node from heal to reconverged; messages refused: ${o.messagesRefused}`,
  );
}

/** Every replication figure: 1,000 nameservers (quick: 200, fewer trials and changes). */
export function replicationBenchmarks(quick: boolean): FederationReport {
  const started = Date.now();
  const plan: Plan = quick ? { nodes: 200, trials: 3, changes: 5, changesPerSide: 200 } : { nodes: 1000, trials: 9, changes: 10, changesPerSide: 1000 };
  const figures: GoalFigure[] = [];
  const notes: string[] = [];
  spread(plan, 0, figures, notes);
  spread(plan, 0.1, figures, notes);
  partition(plan, "reported", figures, notes);
  partition(plan, "unnoticed", figures, notes);
  notes.push(
    `replication: membership is fixed and converged (its figures are above); "reported": membership held the other side dead after 5 s and alive again at the heal ` +
      `(its own heal time adds to the reconvergence), "unnoticed": it never noticed, anti-entropy alone repairs; ` +
      `simulated in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time`,
  );
  return { figures, notes };
}
