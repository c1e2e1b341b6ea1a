/** One process of the host that keeps names, and its place in the respawn order. */
export interface RankHolder {
  readonly rank: number;
  readonly pid: number;
}

/** Most holders one nameserver tracks: one per process on the host that keeps names. */
export const MAX_RANK_HOLDERS = 4096;

/**
 * The respawn order of a host's processes (pizco's "ranked respawn"): each process that
 * keeps names joins once and gets the next rank; the lowest live rank respawns a dead
 * nameserver. Ranks are never reused, so the order only passes on, as holders exit. Pure:
 * whether a pid lives is asked of the caller.
 */
export class RankTable {
  readonly #byPid = new Map<number, number>();
  #next = 1;

  /** The rank of `pid`, given on its first join and kept on later ones. */
  join(pid: number): number {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`a process id must be a positive integer, got ${String(pid)}`);
    const held = this.#byPid.get(pid);
    if (held !== undefined) return held;
    if (this.#byPid.size >= MAX_RANK_HOLDERS) throw new RangeError(`at most ${MAX_RANK_HOLDERS} processes hold ranks`);
    const rank = this.#next++;
    this.#byPid.set(pid, rank);
    return rank;
  }

  /** Gives up a rank; returns whether it was held (by `pid`). */
  leave(pid: number, rank: number): boolean {
    if (this.#byPid.get(pid) !== rank) return false;
    return this.#byPid.delete(pid);
  }

  /** Drops holders whose process is gone; returns whether any was. */
  prune(isAlive: (pid: number) => boolean): boolean {
    let changed = false;
    for (const pid of [...this.#byPid.keys()]) {
      if (!isAlive(pid)) changed = this.#byPid.delete(pid) || changed;
    }
    return changed;
  }

  /** Every holder, lowest rank first. */
  holders(): RankHolder[] {
    return [...this.#byPid].map(([pid, rank]) => ({ rank, pid })).sort((a, b) => a.rank - b.rank);
  }
}

/**
 * Whether the holder of `rank` is the one to respawn the nameserver: no holder of a lower
 * rank is alive. Every holder asks this of the same table, so exactly one answers yes
 * (unless the table is older than a death, which the next check corrects).
 */
export function hasRespawnDuty(rank: number, holders: readonly RankHolder[], isAlive: (pid: number) => boolean): boolean {
  return holders.every((holder) => holder.rank >= rank || !isAlive(holder.pid));
}
