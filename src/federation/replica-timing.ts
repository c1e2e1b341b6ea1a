/** How registry replication runs: fan-out, and its timers in ms. */
export interface ReplicaTiming {
  /**
   * Peers a change is pushed to by each replica the first time it gets it (the origin,
   * then everyone once: infect and die). The share of replicas no push reaches is about
   * s = e^(-fanout × (1 - s)): 6 % at 3, 0.25 % at 6, 0.03 % at 8, each left to
   * anti-entropy (2 s, more when that exchange is lost too). With 10 % loss, 6 left a node
   * of 1,000 waiting 3.3 to 7 s in the simulator; 8 keeps everyone within 2.2 s, at 8
   * messages per nameserver per change, within FEDERATION.md's 16.
   */
  readonly pushFanout: number;
  /**
   * Every this often a replica sends one random live peer a hash of its digest; only when
   * they differ do they swap digests and what each lacks. Idle, that is one 80-byte
   * message every 2 s, whatever the registry size.
   */
  readonly antiEntropyInterval: number;
  /**
   * A tombstone is pruned this long after it got here (and only once every change of its
   * origin up to it is here). Safety does not depend on it: a record at or below its
   * origin's complete version that is not held is ignored, so a late copy cannot bring a
   * pruned name back, and a peer that fell behind the pruned versions gets a snapshot that
   * drops its stale names. It is a cost: it must outlast originGrace (plus seconds of
   * convergence), so that a replica that held an origin down, and so still holds its
   * records, catches up by an ordinary delta when the origin comes back.
   */
  readonly tombstoneTtl: number;
  /**
   * An origin declared dead or gone is hidden at once, and its records dropped after this
   * long unless it comes back (with them, without re-registering). Longer keeps names
   * of a restarting or partitioned nameserver ready to show; a dropped origin is fetched
   * again whole when it returns.
   */
  readonly originGrace: number;
  /**
   * Other clusters' names (src/global) show while the cluster's leader publishes them.
   * When the leader changes, they stay shown this long for the new one to take them over
   * (membership timeouts and an etcd session: a few seconds), and are hidden after it if
   * it does not (it runs without --global, or cannot reach etcd).
   */
  readonly remoteHandover: number;
}

export const DEFAULT_REPLICA_TIMING: ReplicaTiming = {
  pushFanout: 8,
  antiEntropyInterval: 2000,
  tombstoneTtl: 3_600_000,
  originGrace: 600_000,
  remoteHandover: 30_000,
};
