/** What a nameserver's bridge to etcd did, counted (GlobalBridge.stats). */
export interface BridgeCounters {
  /** Leadership periods that opened an etcd session. */
  sessions: number;
  /** Terms started: one per session, and one more each time a term ran out or another leader wrote in a later one. */
  terms: number;
  /** Takeovers of every other cluster's names from an etcd listing. */
  syncs: number;
  /** Changes of other clusters' names written into this cluster (no-ops included). */
  imported: number;
  /** This cluster's names written to etcd, and deleted there. */
  exported: number;
  deleted: number;
  /** Times this bridge took the cluster's leader key (became its writer). */
  takeovers: number;
  /** Times another bridge took it from this one while it still led (a partition). */
  yielded: number;
  /** Other clusters' names left out as invalid (not what every member would accept). */
  invalid: number;
  /** etcd requests that failed (unreachable, timed out), each tried again. */
  failures: number;
  /** Problems reported (rate-limited). */
  problems: number;
}

export function newCounters(): BridgeCounters {
  return { sessions: 0, terms: 0, syncs: 0, imported: 0, exported: 0, deleted: 0, takeovers: 0, yielded: 0, invalid: 0, failures: 0, problems: 0 };
}
