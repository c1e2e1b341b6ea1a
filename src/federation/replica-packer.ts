import type { NameRecord } from "./name-record.js";
import { MAX_ORIGINS, MAX_RECORDS, RECORDS_BUDGET, type DigestMessage, type RecordsMessage, type SnapshotPart, type VersionRange } from "./replica-message.js";
import type { ReplicaStore } from "./replica-store.js";

const byName = (a: NameRecord, b: NameRecord): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byVersion = (a: NameRecord, b: NameRecord): number => a.version - b.version;

/** About how many bytes a record takes on the wire. */
function sizeOf(record: NameRecord): number {
  let size = 120 + record.name.length + (record.uri?.length ?? 0);
  for (const tag of record.metadata) size += tag.length + 3;
  return size;
}

/**
 * Packs the answer to a digest into records messages within the caps: an origin's delta
 * or snapshot may span several messages, each with its own range or snapshot part, so
 * every message tells the truth on its own.
 */
export class RecordsPacker {
  readonly #from: string;
  readonly #messages: RecordsMessage[] = [];
  #records: NameRecord[] = [];
  #ranges: VersionRange[] = [];
  #snapshots: SnapshotPart[] = [];
  #bytes = 0;

  constructor(from: string) {
    this.#from = from;
  }

  /**
   * Every record held of `origin` above `after` (`records`, by version ascending), and the
   * sender's complete version: each message's range covers from where the last one stopped
   * up to its last version (the whole way to `complete` in the last one).
   */
  addDelta(origin: string, after: number, complete: number, records: readonly NameRecord[]): void {
    let from = after;
    let i = 0;
    for (;;) {
      if (this.#ranges.length + this.#snapshots.length >= MAX_ORIGINS) this.#flush();
      const start = i;
      while (i < records.length && !this.#recordsFull()) this.#add(records[i++]!);
      const done = i === records.length;
      const last = i > start ? records[i - 1]!.version : from;
      const through = done ? complete : Math.min(last, complete);
      if (through > from) this.#ranges.push({ origin, after: from, through });
      if (done) return;
      this.#flush();
      from = Math.max(from, last);
    }
  }

  /** Every record held of `origin` (`records`, by name), as snapshot parts by span of names. */
  addSnapshot(origin: string, through: number, floor: number, records: readonly NameRecord[]): void {
    let first = "";
    let i = 0;
    for (;;) {
      if (this.#ranges.length + this.#snapshots.length >= MAX_ORIGINS) this.#flush();
      while (i < records.length && !this.#recordsFull()) this.#add(records[i++]!);
      const next = i === records.length ? null : records[i]!.name;
      this.#snapshots.push({ origin, through, floor, first, next });
      if (next === null) return;
      this.#flush();
      first = next;
    }
  }

  /** The messages, the last one flushed. */
  finish(): RecordsMessage[] {
    this.#flush();
    return this.#messages;
  }

  #recordsFull(): boolean {
    return this.#records.length >= MAX_RECORDS || this.#bytes >= RECORDS_BUDGET;
  }

  #add(record: NameRecord): void {
    this.#records.push(record);
    this.#bytes += sizeOf(record);
  }

  #flush(): void {
    if (this.#records.length === 0 && this.#ranges.length === 0 && this.#snapshots.length === 0) return;
    this.#messages.push({ kind: "records", from: this.#from, records: this.#records, ranges: this.#ranges, snapshots: this.#snapshots });
    this.#records = [];
    this.#ranges = [];
    this.#snapshots = [];
    this.#bytes = 0;
  }
}

/**
 * What the sender of a digest lacks, from `self`'s store: for each origin, the records above
 * its version with a range up to our complete version; or, where it is behind our floor
 * (it may hold names whose tombstones we pruned), a snapshot. Nothing about the asker's
 * own origin: it is the authority there; nor about origins `withhold` names (another
 * cluster's, which only the leader sends: replica-remote.ts).
 */
export function answerDigest(store: ReplicaStore, self: string, digest: DigestMessage, withhold: (origin: string) => boolean = () => false): RecordsMessage[] {
  const packer = new RecordsPacker(self);
  for (const [origin, entry] of store.origins()) {
    if (origin === digest.from || withhold(origin)) continue;
    const theirs = digest.versions[origin] ?? 0;
    const held = [...entry.records.values()].map((h) => h.record);
    if (theirs < entry.floor) {
      packer.addSnapshot(origin, entry.complete, entry.floor, held.sort(byName));
      continue;
    }
    const newer = held.filter((r) => r.version > theirs);
    if (newer.length > 0 || entry.complete > theirs) packer.addDelta(origin, theirs, entry.complete, newer.sort(byVersion));
  }
  return packer.finish();
}
