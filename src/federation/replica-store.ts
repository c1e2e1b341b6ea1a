import type { NameRecord } from "./name-record.js";

/** A record as a replica keeps it: with when it got here (a tombstone's time to live counts from then). */
export interface Held {
  readonly record: NameRecord;
  readonly at: number;
}

/**
 * Versions seen above `complete` are remembered to close gaps as they fill, up to this
 * many an origin; past it they are forgotten (anti-entropy closes the gap instead).
 */
const MAX_PENDING = 4096;

/**
 * What a replica holds of one origin. `complete` is the version it is up to date with:
 * for every name whose newest change at the origin has a version up to `complete`, it
 * holds that change or a newer one (or nothing, when that change was a tombstone pruned
 * here). A peer therefore sends only versions above it; and a record at or below it that
 * is not held is stale or deleted, so it is ignored: that is what keeps pruned tombstones
 * dead. `floor` is the highest tombstone version pruned here: a peer whose complete version
 * is below it may hold names whose tombstones it never got, and is sent a snapshot.
 */
export class OriginRecords {
  readonly records = new Map<string, Held>();
  complete = 0;
  floor = 0;
  /** Versions above `complete` already here (each change has its own version). */
  readonly pending = new Set<number>();

  /** Notes that the change `version` is here (or superseded here), and closes the gap behind it. */
  seen(version: number): void {
    if (version <= this.complete) return;
    if (this.pending.size >= MAX_PENDING) this.pending.clear();
    this.pending.add(version);
    this.#advance();
  }

  /** Every change up to `version` is here (a peer said so). */
  raise(version: number): void {
    if (version <= this.complete) return;
    this.complete = version;
    for (const v of this.pending) if (v <= version) this.pending.delete(v);
    this.#advance();
  }

  #advance(): void {
    while (this.pending.delete(this.complete + 1)) this.complete++;
  }
}

/**
 * The records a replica holds, by origin and name, with an index of the live ones by name
 * (the candidates for each name). No policy: RegistryReplica decides what goes in.
 */
export class ReplicaStore {
  readonly #origins = new Map<string, OriginRecords>();
  /** Live (non-tombstone) records by name, then origin. */
  readonly #live = new Map<string, Map<string, NameRecord>>();

  origin(origin: string): OriginRecords | undefined {
    return this.#origins.get(origin);
  }

  /** The origin's entry, created empty if needed. */
  ensure(origin: string): OriginRecords {
    let entry = this.#origins.get(origin);
    if (!entry) this.#origins.set(origin, (entry = new OriginRecords()));
    return entry;
  }

  origins(): IterableIterator<[string, OriginRecords]> {
    return this.#origins.entries();
  }

  get(origin: string, name: string): NameRecord | undefined {
    return this.#origins.get(origin)?.records.get(name)?.record;
  }

  /** Whether `record` is newer than what is held for its key, and above its origin's complete version. */
  isNew(record: NameRecord): boolean {
    const entry = this.#origins.get(record.origin);
    if (!entry) return true;
    return record.version > entry.complete && record.version > (entry.records.get(record.name)?.record.version ?? 0);
  }

  /** Holds `record` in place of the one of its key. */
  put(record: NameRecord, at: number): void {
    const entry = this.ensure(record.origin);
    this.#unindex(record.origin, record.name);
    entry.records.set(record.name, { record, at });
    if (record.uri !== null) {
      let byOrigin = this.#live.get(record.name);
      if (!byOrigin) this.#live.set(record.name, (byOrigin = new Map()));
      byOrigin.set(record.origin, record);
    }
  }

  delete(origin: string, name: string): void {
    this.#unindex(origin, name);
    this.#origins.get(origin)?.records.delete(name);
  }

  /** Forgets an origin: its records, its versions, its floor. */
  dropOrigin(origin: string): void {
    const entry = this.#origins.get(origin);
    if (!entry) return;
    for (const name of entry.records.keys()) this.#unindex(origin, name);
    this.#origins.delete(origin);
  }

  /**
   * Prunes tombstones held for `ttl` by `now`, once every change of their origin up to them
   * is here (below the complete version, a copy not held is ignored: the name stays dead),
   * and raises each origin's floor past them.
   */
  prune(now: number, ttl: number): void {
    for (const [origin, entry] of this.#origins) {
      for (const [name, { record, at }] of entry.records) {
        if (record.uri !== null || now - at < ttl || record.version > entry.complete) continue;
        this.delete(origin, name);
        entry.floor = Math.max(entry.floor, record.version);
      }
    }
  }

  /** The live records of a name, by origin. */
  live(name: string): ReadonlyMap<string, NameRecord> | undefined {
    return this.#live.get(name);
  }

  /** Every name some origin holds live. */
  liveNames(): IterableIterator<string> {
    return this.#live.keys();
  }

  #unindex(origin: string, name: string): void {
    const byOrigin = this.#live.get(name);
    if (byOrigin?.delete(origin) && byOrigin.size === 0) this.#live.delete(name);
  }
}
