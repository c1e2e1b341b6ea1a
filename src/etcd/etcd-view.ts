import type { EtcdLayout, EtcdRecord } from "./etcd-layout.js";

/**
 * The local view of a namespace in etcd: what the names range held at `revision`, built
 * from a listing and kept current by applying watch events in order. Pure: no I/O, so the
 * watch driver, resync and bad data are all tested without a server. Every change to the
 * view comes out as a ViewChange, in revision order.
 */

/** A key and value as etcd gives them (revisions as numbers). */
export interface EtcdKv {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly createRevision: number;
  /** The lease the key is attached to ("0": none). */
  readonly lease: string;
}

export type EtcdEvent = { readonly type: "put"; readonly kv: EtcdKv } | { readonly type: "delete"; readonly key: Buffer; readonly modRevision: number };

export interface ViewEntry {
  readonly record: EtcdRecord;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly lease: string;
}

/**
 * What happened to a name at `revision`. `rewritten`: written again with the same URI and
 * tags (by another nameserver, or again by the same): no change to announce, but a new origin.
 */
export interface ViewChange {
  readonly kind: "registered" | "metadataChanged" | "removed" | "rewritten";
  readonly record: EtcdRecord;
  readonly revision: number;
  /** The lease the key is (for a removal: was) attached to. */
  readonly lease: string;
}

export class EtcdView {
  readonly #layout: EtcdLayout;
  readonly #onSkip: (reason: string) => void;
  #entries = new Map<string, ViewEntry>();
  #revision = 0;
  #skipped = 0;

  /** `onSkip` hears of each key or value that is no valid registration (skipped, never applied). */
  constructor(layout: EtcdLayout, onSkip: (reason: string) => void = () => {}) {
    this.#layout = layout;
    this.#onSkip = onSkip;
  }

  /** The revision the view is current at: every change up to it is applied, none after. */
  get revision(): number {
    return this.#revision;
  }

  /** How many keys or values were skipped as invalid so far. */
  get skipped(): number {
    return this.#skipped;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(name: string): ViewEntry | undefined {
    return this.#entries.get(name);
  }

  entries(): IterableIterator<ViewEntry> {
    return this.#entries.values();
  }

  /**
   * Replaces the view with a listing of the names range taken at `revision` (at start, and
   * for a resync when the watch history was compacted away); returns the differences.
   */
  load(kvs: readonly EtcdKv[], revision: number): ViewChange[] {
    const previous = this.#entries;
    this.#entries = new Map();
    for (const kv of kvs) {
      const entry = this.#entry(kv);
      if (entry) this.#entries.set(entry.record.name, entry);
    }
    this.#revision = Math.max(this.#revision, revision);
    const changes: ViewChange[] = [];
    for (const [name, entry] of previous) {
      if (!this.#entries.has(name)) changes.push({ kind: "removed", record: entry.record, revision, lease: entry.lease });
    }
    for (const entry of this.#entries.values()) {
      const change = compare(previous.get(entry.record.name), entry, revision);
      if (change) changes.push(change);
    }
    return changes;
  }

  /** Applies the events of one watch response, in order; events at or below `revision` were seen already. */
  apply(events: readonly EtcdEvent[]): ViewChange[] {
    const seen = this.#revision;
    const changes: ViewChange[] = [];
    for (const event of events) {
      const revision = event.type === "put" ? event.kv.modRevision : event.modRevision;
      if (revision <= seen) continue;
      this.#revision = Math.max(this.#revision, revision);
      const change = event.type === "put" ? this.#put(event.kv) : this.#delete(event.key, revision);
      if (change) changes.push(change);
    }
    return changes;
  }

  #put(kv: EtcdKv): ViewChange | undefined {
    const entry = this.#entry(kv);
    if (!entry) {
      // An unreadable value replaces whatever was there: the name is no longer answerable.
      const name = this.#layout.nameOf(kv.key);
      return typeof name === "string" ? this.#delete(kv.key, kv.modRevision) : undefined;
    }
    const previous = this.#entries.get(entry.record.name);
    this.#entries.set(entry.record.name, entry);
    return compare(previous, entry, kv.modRevision);
  }

  #delete(key: Buffer, revision: number): ViewChange | undefined {
    const name = this.#layout.nameOf(key);
    if (typeof name !== "string") return undefined; // never applied, so nothing to remove
    const previous = this.#entries.get(name);
    if (!previous) return undefined;
    this.#entries.delete(name);
    return { kind: "removed", record: previous.record, revision, lease: previous.lease };
  }

  #entry(kv: EtcdKv): ViewEntry | undefined {
    const record = this.#layout.decode(kv.key, kv.value);
    if ("invalid" in record) {
      this.#skipped++;
      this.#onSkip(record.invalid);
      return undefined;
    }
    return { record, value: kv.value, modRevision: kv.modRevision, createRevision: kv.createRevision, lease: kv.lease };
  }
}

/** The change from `previous` (or nothing) to `entry`; undefined when a listing shows the very same write. */
function compare(previous: ViewEntry | undefined, entry: ViewEntry, revision: number): ViewChange | undefined {
  const { record, lease } = entry;
  if (!previous || previous.record.uri !== record.uri) return { kind: "registered", record, revision, lease };
  if (!sameTags(previous.record.metadata, record.metadata)) return { kind: "metadataChanged", record, revision, lease };
  if (previous.modRevision === entry.modRevision) return undefined;
  return { kind: "rewritten", record, revision, lease };
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}
