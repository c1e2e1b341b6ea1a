/** How the replication driver follows membership: a member's names show once when it becomes live, and hide when it goes down. */
import { describe, expect, it } from "vitest";
import type { PeerChange, PeerChangeKind, PeerInfo } from "../src/federation/member.js";
import { ReplicationDriver } from "../src/federation/replication-driver.js";
import type { ReplicaMessage } from "../src/federation/replica-message.js";

const SELF = "a".repeat(32);
const PEER = "b".repeat(32);

function change(kind: PeerChangeKind, state: PeerInfo["state"], incarnation: number): PeerChange {
  return { change: kind, peer: { id: PEER, endpoint: "127.0.0.1:9091", domain: "d", incarnation, state, host: "127.0.0.1", lastHeard: null, leader: false, self: false } };
}

describe("replication driver", () => {
  it("shows a member's names once it is live (also when a dead member comes back as suspect), not again at each refutation", () => {
    const sent: ReplicaMessage[] = [];
    const driver = new ReplicationDriver(SELF, { send: (_to, message) => void sent.push(message), emit: () => {} });
    const digests = (): number => sent.filter((m) => m.kind === "digest").length;
    driver.memberChanged(0, change("joined", "alive", 0));
    expect(digests()).toBe(1);
    // Suspected, then alive again: still the same live member, nothing to swap.
    driver.memberChanged(1, change("suspect", "suspect", 0));
    driver.memberChanged(2, change("alive", "alive", 1));
    expect(digests()).toBe(1);
    // Dead: its messages are no longer taken...
    driver.memberChanged(3, change("dead", "dead", 1));
    driver.receive(4, { kind: "summary", from: PEER, hash: "0".repeat(16) });
    expect(driver.stats.notMember).toBe(1);
    // ...and back as suspect at a higher incarnation: live again, names shown, digests swapped.
    driver.memberChanged(5, change("suspect", "suspect", 2));
    expect(digests()).toBe(2);
    driver.receive(6, { kind: "summary", from: PEER, hash: "0".repeat(16) });
    expect(driver.stats.notMember).toBe(1);
  });
});
