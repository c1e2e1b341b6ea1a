/**
 * Registry replication on 200 simulated nameservers (src/federation/sim-replication.ts:
 * one RegistryReplica each over a fixed, converged membership, virtual clock, seeded).
 * Replay another seed with PYRO_SIM_SEED=n.
 */
import { describe, expect, it } from "vitest";
import { REPLICATION_GOALS, measureChangeCost, measureRegistration, runPartitionScenario } from "../src/federation/sim-replication-metrics.js";
import { ReplicationSimulator } from "../src/federation/sim-replication.js";
import { prng } from "./seeded.js";

const SEED = Number(process.env.PYRO_SIM_SEED ?? 11);
const NODES = 200;
const context = `seed ${SEED}`;

describe(`registry replication on ${NODES} simulated nameservers (${context})`, () => {
  it("one registration converges everywhere, at a bounded cost per node", () => {
    const sim = new ReplicationSimulator({ random: prng(SEED), nodes: NODES });
    sim.run(3000);
    for (let trial = 0; trial < 3; trial++) {
      const { ms } = measureRegistration(sim, `lab.laser${trial}`, 10_000);
      expect(ms, `trial ${trial}`).toBeDefined();
      expect(ms!, `trial ${trial}`).toBeLessThanOrEqual(REPLICATION_GOALS.seenByAllMs);
      sim.run(2000);
    }
    for (const node of sim.nodes) {
      expect(node.replica.count()).toBe(3);
      expect(node.replica.lookup("lab.laser0")?.uri).toMatch(/^PYRO:obj_/);
    }
    const cost = measureChangeCost(sim, 5, 10_000, "cost");
    expect(cost.converged).toBe(true);
    expect(cost.perNodePerChange).toBeGreaterThan(1);
    expect(cost.perNodePerChange).toBeLessThanOrEqual(REPLICATION_GOALS.messagesPerNodePerChange);
    expect(sim.nodes.every((node) => node.stats.refused === 0 && node.stats.notMember === 0)).toBe(true);
  });

  it("with 10 % loss a registration, a removal and new metadata still converge everywhere", () => {
    const sim = new ReplicationSimulator({ random: prng(SEED + 1), nodes: NODES, network: { loss: 0.1 } });
    sim.run(3000);
    const { ms } = measureRegistration(sim, "lab.lossy", 20_000);
    expect(ms).toBeDefined();
    expect(ms!).toBeLessThanOrEqual(REPLICATION_GOALS.seenByAllLossyMs);
    const origin = sim.nodes.find((node) => node.replica.lookup("lab.lossy")?.origin === node.id)!;
    sim.setMetadata(origin, "lab.lossy", ["class:laser"]);
    sim.register(origin, "lab.gone", "PYRO:obj_gone@10.0.0.1:4000");
    sim.run(100);
    sim.remove(origin, "lab.gone");
    sim.run(10_000);
    for (const node of sim.nodes) {
      expect(node.replica.lookup("lab.lossy")?.metadata).toEqual(["class:laser"]);
      expect(node.replica.lookup("lab.gone")).toBeUndefined();
      expect(node.replica.digestHash()).toBe(origin.replica.digestHash());
    }
    expect(sim.network.conditions.loss).toBe(0.1);
  });

  it("a partition of the 200 into 2 x 100, unnoticed by membership, heals by anti-entropy alone: nothing lost or resurrected", () => {
    const outcome = runPartitionScenario({ seed: prng(SEED + 3), side: NODES / 2, baseNames: 200, changesPerSide: 100, partitionMs: 30_000, membership: "unnoticed", limitMs: 30_000 });
    expect(outcome.reconvergeMs).toBeDefined();
    expect(outcome.reconvergeMs!).toBeLessThanOrEqual(REPLICATION_GOALS.reconvergeMs);
    expect([outcome.lost, outcome.resurrected, outcome.wrong]).toEqual([0, 0, 0]);
    expect(outcome.changes.removals).toBeGreaterThan(10);
    expect(outcome.expectedConflicts).toBeGreaterThan(0);
    expect(outcome.conflicts).toBe(outcome.expectedConflicts);
    expect(outcome.conflictViews).toBe(1);
    expect(outcome.conflictsExpected).toBe(true);
  });

  for (const membership of ["reported", "unnoticed"] as const) {
    it(`a partition of 2 x 5 with changes on both sides heals: nothing lost or resurrected, the same conflicts everywhere (membership ${membership})`, () => {
      const outcome = runPartitionScenario({ seed: prng(SEED + 2), side: 5, baseNames: 500, changesPerSide: 500, partitionMs: 30_000, membership, limitMs: 30_000 });
      expect(outcome.reconvergeMs).toBeDefined();
      expect(outcome.reconvergeMs!).toBeLessThanOrEqual(REPLICATION_GOALS.reconvergeMs);
      expect(outcome.lost).toBe(0);
      expect(outcome.resurrected).toBe(0);
      expect(outcome.wrong).toBe(0);
      // The scenario must have exercised what it claims: removals, metadata, names claimed twice.
      expect(outcome.changes.removals).toBeGreaterThan(50);
      expect(outcome.changes.metadata).toBeGreaterThan(50);
      expect(outcome.expectedConflicts).toBeGreaterThan(5);
      expect(outcome.conflicts).toBe(outcome.expectedConflicts);
      expect(outcome.conflictViews).toBe(1);
      expect(outcome.conflictsExpected).toBe(true);
      expect(outcome.messagesRefused).toBe(0);
      // Reported dead, the other side's names are hidden; unnoticed, they stay shown (stale).
      if (membership === "reported") expect(outcome.shownAcrossDuringPartition).toBe(0);
      else expect(outcome.shownAcrossDuringPartition).toBeGreaterThan(0);
    });
  }
});
