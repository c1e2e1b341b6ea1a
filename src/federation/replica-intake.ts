import type { NameRecord } from "./name-record.js";
import type { RecordsMessage } from "./replica-message.js";
import type { OriginLiveness } from "./replica-liveness.js";
import type { OriginRecords, ReplicaStore } from "./replica-store.js";
import type { NameView } from "./replica-view.js";

/** Records refused or ignored, by reason. */
export interface ReplicaStats {
  /** Records of this nameserver's own origin sent by others: refused, it alone changes them. */
  forged: number;
  /** Records of an origin dropped past its grace: refused until it is back. */
  gone: number;
  /** Records no newer than what is held (duplicates, late or stale copies): ignored. */
  stale: number;
  /** A peer held our origin above our counter (the persisted version was lost): the counter jumped past it. */
  counterJumps: number;
  /** Records, ranges and snapshot parts of another cluster's origin from a member that is not our leader: refused (replica-remote.ts). */
  remoteForged: number;
}

/**
 * How a replica takes in what peers send: records, then the ranges and snapshot parts that
 * say how complete they leave it. Each name it changes is touched in the view first.
 */
export class ReplicaIntake {
  readonly #self: string;
  readonly #store: ReplicaStore;
  readonly #view: NameView;
  readonly #liveness: OriginLiveness;
  /** Snapshots being received: the first name of the part expected next, by origin. */
  readonly #resync = new Map<string, string | null>();
  readonly stats: ReplicaStats = { forged: 0, gone: 0, stale: 0, counterJumps: 0, remoteForged: 0 };

  constructor(self: string, store: ReplicaStore, view: NameView, liveness: OriginLiveness) {
    this.#self = self;
    this.#store = store;
    this.#view = view;
    this.#liveness = liveness;
  }

  /** Applies records from a peer; returns those new here (to forward, when pushed). */
  take(now: number, records: readonly NameRecord[]): NameRecord[] {
    const fresh: NameRecord[] = [];
    for (const record of records) {
      if (record.origin === this.#self) {
        this.stats.forged++;
        continue;
      }
      if (this.#liveness.isGone(record.origin)) {
        this.stats.gone++;
        continue;
      }
      if (!this.#store.isNew(record)) {
        // Not new, but seen: it may close a gap above the origin's complete version.
        this.#store.origin(record.origin)?.seen(record.version);
        this.stats.stale++;
        continue;
      }
      const entry = this.#known(now, record.origin);
      this.#view.touch(record.name);
      this.#store.put(record, now);
      entry.seen(record.version);
      fresh.push(record);
    }
    return fresh;
  }

  /** Applies a records message's ranges and snapshot parts (after its records). */
  cover(now: number, message: RecordsMessage): void {
    for (const range of message.ranges) {
      if (range.origin === this.#self || this.#liveness.isGone(range.origin)) continue;
      const entry = this.#store.origin(range.origin) ?? (range.after === 0 ? this.#known(now, range.origin) : undefined);
      if (entry && entry.complete >= range.after) entry.raise(range.through);
    }
    const sent = new Set(message.records.map((r) => `${r.origin}/${r.name}`));
    for (const part of message.snapshots) {
      if (part.origin === this.#self || this.#liveness.isGone(part.origin)) continue;
      const entry = this.#known(now, part.origin);
      for (const [name, { record }] of entry.records) {
        if (name < part.first || (part.next !== null && name >= part.next)) continue;
        // Live here, unknown to a sender complete past it: deleted there, its tombstone pruned.
        // (Tombstones stay: dropping one before we are complete past it could let a late copy in.)
        if (record.uri === null || record.version > part.through || sent.has(`${part.origin}/${name}`)) continue;
        this.#view.touch(name);
        this.#store.delete(part.origin, name);
      }
      // Only parts in order, from the first to the last, make the whole snapshot.
      const expected = part.first === "" ? "" : this.#resync.get(part.origin);
      if (expected !== part.first) {
        this.#resync.delete(part.origin);
        continue;
      }
      if (part.next !== null) {
        this.#resync.set(part.origin, part.next);
        continue;
      }
      this.#resync.delete(part.origin);
      entry.raise(part.through);
      entry.floor = Math.max(entry.floor, part.floor);
    }
  }

  /** Forgets a snapshot in progress (its origin was dropped). */
  forget(origin: string): void {
    this.#resync.delete(origin);
  }

  /** The origin's entry; an origin never reported up is hidden from now. */
  #known(now: number, origin: string): OriginRecords {
    this.#liveness.noted(now, origin);
    return this.#store.ensure(origin);
  }
}
