import type { MemberRecord } from "./member.js";

interface Entry {
  readonly record: MemberRecord;
  sent: number;
}

/**
 * Changes waiting to be gossiped, each sent a bounded number of times (piggybacked on
 * probes or in gossip messages), the least-sent first. A newer change about a member
 * replaces the older one, which need not travel any more.
 */
export class Dissemination {
  readonly #entries = new Map<string, Entry>();
  /** Entries by how often they were sent; each bucket in the order its entries got there. */
  readonly #bySent: Set<Entry>[] = [];

  get size(): number {
    return this.#entries.size;
  }

  add(record: MemberRecord): void {
    const old = this.#entries.get(record.id);
    if (old) this.#bySent[old.sent]!.delete(old);
    const entry: Entry = { record, sent: 0 };
    this.#entries.set(record.id, entry);
    this.#bucket(0).add(entry);
  }

  /** Up to `max` changes for one message; each is dropped once sent `limit` times. */
  take(max: number, limit: number): MemberRecord[] {
    if (this.#entries.size === 0) return [];
    // Buckets are read before any entry moves, so none is taken twice.
    const taken: Entry[] = [];
    for (let sent = 0; sent < this.#bySent.length && taken.length < max; sent++) {
      for (const entry of this.#bySent[sent]!) {
        taken.push(entry);
        if (taken.length === max) break;
      }
    }
    for (const entry of taken) {
      this.#bySent[entry.sent]!.delete(entry);
      if (++entry.sent >= limit) this.#entries.delete(entry.record.id);
      else this.#bucket(entry.sent).add(entry);
    }
    return taken.map((entry) => entry.record);
  }

  #bucket(sent: number): Set<Entry> {
    while (this.#bySent.length <= sent) this.#bySent.push(new Set());
    return this.#bySent[sent]!;
  }
}
