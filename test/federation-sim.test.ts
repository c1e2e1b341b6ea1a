/**
 * FEDERATION.md's membership figures on 200 simulated nameservers (src/federation/simulator.ts:
 * virtual clock, seeded, so every run is the same run). The tests share one cluster, in
 * order: each leaves it running and converged for the next. Replay another seed with
 * PYRO_SIM_SEED=n.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  GOALS,
  converged,
  leaderAgreement,
  measureCrash,
  measureFalseDeaths,
  measureJoin,
  measureLeave,
  measurePartitionHeal,
  measureTraffic,
  runUntilConverged,
  startCluster,
} from "../src/federation/sim-metrics.js";
import { Simulator, type SimNode } from "../src/federation/simulator.js";
import { prng } from "./seeded.js";

const SEED = Number(process.env.PYRO_SIM_SEED ?? 7);
const NODES = 200;
const context = `seed ${SEED}`;

let sim: Simulator;

/** A running node that does not lead (the trials are about members; the leader has its own test). */
function member(): SimNode {
  const leader = leaderAgreement(sim).expected.get(sim.running()[0]!.domain);
  const members = sim.running().filter((node) => node.id !== leader);
  return members[Math.floor(sim.random() * members.length)]!;
}

beforeAll(() => {
  sim = new Simulator({ random: prng(SEED) });
  startCluster(sim, NODES, { limitMs: 60_000 });
  // The crowd's gossip drains.
  sim.run(20_000);
});

describe(`membership of ${NODES} simulated nameservers (${context})`, () => {
  it("a crowd started within a second converges: everyone alive everywhere, one leader", () => {
    expect(converged(sim)).toBe(true);
    expect(sim.runningCount).toBe(NODES);
    const leaders = leaderAgreement(sim);
    expect(leaders.agreed).toBe(true);
    expect(leaders.named.size).toBe(1);
  });

  it(`a new member is known alive by all within ${GOALS.joinMs} ms`, () => {
    for (let trial = 0; trial < 3; trial++) {
      const join = measureJoin(sim, 10_000);
      expect(join.knownByAllMs, `trial ${trial}`).toBeLessThanOrEqual(GOALS.joinMs);
      expect(join.knowsAllMs, `trial ${trial}`).toBeLessThanOrEqual(GOALS.joinMs);
      sim.run(3000);
    }
  });

  it(`a crashed member is dead on every node within ${GOALS.deathMs100} ms`, () => {
    for (let trial = 0; trial < 3; trial++) {
      const deadMs = measureCrash(sim, member(), 30_000);
      expect(deadMs, `trial ${trial}`).toBeLessThanOrEqual(GOALS.deathMs100);
      sim.run(3000);
    }
  });

  it("a graceful leave is seen everywhere at once", () => {
    expect(measureLeave(sim, member(), 10_000)).toBeLessThan(100);
  });

  it("the leader is the lowest live id everywhere, and its successor takes over when it crashes", () => {
    const before = leaderAgreement(sim);
    expect(before.agreed).toBe(true);
    const leader = sim.node(before.expected.get(sim.running()[0]!.domain)!)!;
    expect(measureCrash(sim, leader, 30_000)).toBeLessThanOrEqual(GOALS.deathMs100);
    const after = leaderAgreement(sim);
    expect(after.agreed).toBe(true);
    expect(after.named.size).toBe(1);
    expect([...after.named][0]).not.toBe(leader.id);
    expect(runUntilConverged(sim, 10_000)).toBeDefined();
  });

  it("idle traffic stays within the goal", () => {
    sim.run(10_000);
    const idle = measureTraffic(sim, 30_000);
    expect(idle.sentPerSecond).toBeLessThanOrEqual(GOALS.idleBytesPerSecond);
    expect(idle.receivedPerSecond).toBeLessThanOrEqual(GOALS.idleBytesPerSecond);
    expect(idle.sentPerSecond).toBeGreaterThan(0);
  });

  it("no false death in 2 minutes of 5 % loss with one member stalled 2 s every 30 s", () => {
    const run = measureFalseDeaths(sim, { durationMs: 120_000, loss: 0.05, stallEveryMs: 30_000, stallMs: 2000 });
    expect(run.stalls).toBe(4);
    // The run did stress the detector: members were suspected, and all of them refuted.
    expect(run.suspicions).toBeGreaterThan(0);
    expect(run.examples).toEqual([]);
    expect(run.deaths).toBe(GOALS.falseDeaths);
    expect(run.lefts).toBe(0);
    sim.run(10_000);
    expect(runUntilConverged(sim, 20_000)).toBeDefined();
  });

  it("a partition into two halves: each declares the other dead, and all are alive again once healed", () => {
    const heal = measurePartitionHeal(sim, { splitLimitMs: 30_000, healLimitMs: 30_000 });
    expect(heal.splitMs).toBeDefined();
    expect(heal.healedMs).toBeLessThanOrEqual(5000);
    expect(heal.leadersAgree).toBe(true);
  });

  it("every message passed validation", () => {
    expect(sim.nodes.reduce((sum, node) => sum + node.stats.refused, 0)).toBe(0);
  });
});

describe("the simulator", () => {
  function run(seed: number): string {
    const small = new Simulator({ random: prng(seed), network: { loss: 0.02 } });
    startCluster(small, 30);
    const victim = small.running()[5]!;
    measureCrash(small, victim);
    small.stall(small.running()[7]!, 2000);
    small.run(10_000);
    return JSON.stringify({ now: small.now, traffic: small.traffic(), views: small.nodes.map((node) => [...node.view]) });
  }

  it("is deterministic: one seed, one run", () => {
    expect(run(3)).toBe(run(3));
    expect(run(3)).not.toBe(run(4));
  });

  it("holds what a stalled node is sent until it resumes, and delivers nothing to a crashed one", () => {
    const small = new Simulator({ random: prng(11) });
    startCluster(small, 5);
    const [a, b, c] = small.running();
    const readBefore = b!.stats.messagesReceived;
    small.stall(b!, 3000);
    small.run(2900);
    expect(b!.stats.messagesReceived).toBe(readBefore);
    small.run(200);
    expect(b!.stats.messagesReceived).toBeGreaterThan(readBefore);
    small.crash(c!);
    const readByCrashed = c!.stats.messagesReceived;
    small.run(5000);
    expect(c!.stats.messagesReceived).toBe(readByCrashed);
    expect(a!.view.get(c!.id)).toBe("dead");
  });
});
