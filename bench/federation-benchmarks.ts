/**
 * The membership figures of FEDERATION.md ("Numbers to reach"), measured on 100 and 1,000
 * simulated nameservers (src/federation/simulator.ts: virtual clock, seeded, so each figure
 * is the same on every run and machine). There is no baseline to run beside them: each is
 * printed beside its goal, with figure / goal (at most 1 meets it).
 */
import { Simulator } from "../src/federation/simulator.js";
import {
  GOALS,
  deathGoal,
  leaderAgreement,
  measureCrash,
  measureFalseDeaths,
  measureJoin,
  measureLeave,
  measurePartitionHeal,
  measureTraffic,
  startCluster,
} from "../src/federation/sim-metrics.js";
import type { SimNode } from "../src/federation/simulator.js";
import { prng } from "../test/seeded.js";
import { median } from "./measure.js";

/** A simulated figure beside its goal. */
export interface GoalFigure {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly goal: number;
  /** value / goal: at most 1 meets the goal (for a goal of 0: 0 if met, else Infinity). */
  readonly ratio: number;
}

export interface FederationReport {
  readonly figures: GoalFigure[];
  /** Context that has no goal: convergence of the crowd, leader agreement, wall time. */
  readonly notes: string[];
}

const SEED = 20_240_611;

function figure(name: string, unit: string, value: number, goal: number): GoalFigure {
  return { name, unit, value, goal, ratio: goal === 0 ? (value === 0 ? 0 : Infinity) : value / goal };
}

/** A node at random that is not the leader: the trials are about members, not elections. */
function randomMember(sim: Simulator): SimNode {
  const running = sim.running();
  const leader = leaderAgreement(sim).expected.get(running[0]!.domain);
  const members = running.filter((node) => node.id !== leader);
  return members[Math.floor(sim.random() * members.length)]!;
}

function ms(value: number | undefined, limit: number): number {
  return value ?? limit;
}

interface Plan {
  readonly nodes: number;
  readonly trials: number;
  readonly falseDeathMinutes: number;
  readonly partition: boolean;
}

function cluster(plan: Plan): FederationReport {
  const started = Date.now();
  const n = plan.nodes;
  const figures: GoalFigure[] = [];
  const notes: string[] = [];
  const sim = new Simulator({ random: prng(SEED + n) });
  const { convergedMs } = startCluster(sim, n, { limitMs: 120_000 });
  const bootstrap = sim.nodes.reduce((sum, node) => sum + node.stats.bytesSent + node.stats.beaconBytesSent, 0) / n;
  notes.push(`${n} nameservers started within 1 s: all know each other alive after ${(convergedMs / 1000).toFixed(1)} s, having sent ${(bootstrap / 1e6).toFixed(2)} MB each`);
  // Bootstrap gossip drains before the idle figure.
  sim.run(30_000);
  const idle = measureTraffic(sim, 60_000);
  figures.push(figure(`idle traffic sent per nameserver, ${n} nodes`, "B/s", idle.sentPerSecond, GOALS.idleBytesPerSecond));
  figures.push(figure(`idle traffic received per nameserver (beacons too), ${n} nodes`, "B/s", idle.receivedPerSecond, GOALS.idleBytesPerSecond));

  const joins: number[] = [];
  const deaths: number[] = [];
  const joinLimit = 10_000;
  const deathLimit = 30_000;
  for (let trial = 0; trial < plan.trials; trial++) {
    joins.push(ms(measureJoin(sim, joinLimit).knownByAllMs, joinLimit));
    sim.run(3000);
    deaths.push(ms(measureCrash(sim, randomMember(sim), deathLimit), deathLimit));
    sim.run(3000);
  }
  const trials = `${plan.trials} trials`;
  figures.push(figure(`new member known alive by all, ${n} nodes, median of ${trials}`, "ms", median(joins), GOALS.joinMs));
  figures.push(figure(`new member known alive by all, ${n} nodes, max of ${trials}`, "ms", Math.max(...joins), GOALS.joinMs));
  figures.push(figure(`crashed member dead everywhere, ${n} nodes, median of ${trials}`, "ms", median(deaths), deathGoal(n)));
  figures.push(figure(`crashed member dead everywhere, ${n} nodes, max of ${trials}`, "ms", Math.max(...deaths), deathGoal(n)));
  const left = measureLeave(sim, randomMember(sim));
  const leaders = leaderAgreement(sim);
  notes.push(`${n} nodes: a graceful leave is seen everywhere after ${left === undefined ? "never" : `${left.toFixed(0)} ms`}; leader agreed by all: ${leaders.agreed ? "yes" : `no (${leaders.named.size} named)`}`);

  const minutes = plan.falseDeathMinutes;
  const run = measureFalseDeaths(sim, { durationMs: minutes * 60_000, loss: 0.05, stallEveryMs: 30_000, stallMs: 2000 });
  figures.push(figure(`false deaths, ${n} nodes, 5 % loss, one stalled 2 s every 30 s, ${minutes} min`, "", run.deaths, GOALS.falseDeaths));
  notes.push(`${n} nodes, false-death run: ${run.stalls} stalls, ${run.suspicions} suspicion events about live members (all refuted), ${run.lefts} false leaves`);

  if (plan.partition) {
    sim.run(10_000);
    const heal = measurePartitionHeal(sim);
    figures.push(figure(`membership healed after a partition into 2 halves, ${n} nodes`, "ms", ms(heal.healedMs, 60_000), 5000));
    notes.push(`${n} nodes, partition: each half held the other dead after ${ms(heal.splitMs, 60_000)} ms; after healing, leader agreed: ${heal.leadersAgree ? "yes" : "no"}`);
  }
  const refused = sim.nodes.reduce((sum, node) => sum + node.stats.refused, 0);
  notes.push(`${n} nodes: ${(sim.now / 60_000).toFixed(1)} virtual minutes simulated in ${((Date.now() - started) / 1000).toFixed(1)} s of wall time; messages refused by validation: ${refused}`);
  return { figures, notes };
}

/** Every figure for 100 and 1,000 nameservers (quick: 100 only, shorter runs). */
export function federationBenchmarks(quick: boolean): FederationReport {
  const plans: Plan[] = quick
    ? [{ nodes: 100, trials: 3, falseDeathMinutes: 1, partition: false }]
    : [
        { nodes: 100, trials: 9, falseDeathMinutes: 10, partition: true },
        { nodes: 1000, trials: 7, falseDeathMinutes: 10, partition: false },
      ];
  const reports = plans.map(cluster);
  return { figures: reports.flatMap((r) => r.figures), notes: reports.flatMap((r) => r.notes) };
}
