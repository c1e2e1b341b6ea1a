import type { NameRecord } from "./name-record.js";
import type { HandbackEntry } from "./pair-message.js";
import type { ReplicaStore } from "./replica-store.js";
import type { NameView } from "./replica-view.js";

/** A name taken over from the partner: as it was adopted, and the version of our record that adopted it. */
interface Adopted {
  readonly uri: string;
  readonly metadata: readonly string[];
  readonly claim: number;
  readonly version: number;
}

/** What the takeover needs of its replica. */
export interface TakeoverHost {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly view: NameView;
  /** Writes a change of our own origin (a new version; the caller pushes it). */
  write(now: number, name: string, claim: number, uri: string | null, metadata: readonly string[]): NameRecord;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

/**
 * The pair's takeover, pure: when the partner goes down, its live names become records of
 * our own origin (the same URI, tags and claim, so every nameserver ranks them as before),
 * and they are kept as *adopted* until the partner is back. Then they are handed back: a
 * name we left unchanged becomes the partner's again (where its registrar is bound), and
 * our copy goes; a name we changed or removed meanwhile stays as we have it, and the
 * partner drops its old record of it. While a name is adopted, the partner's own records
 * of it are shadowed here (its old copy, visible again when it returns, must not bring
 * back a name we removed), until the handback is settled.
 *
 * Partners are member ids seen at the pair's endpoint: with memory storage a restarted
 * partner has a new id, and the names go back to it all the same.
 */
export class Takeover {
  readonly #host: TakeoverHost;
  readonly #partners = new Set<string>();
  readonly #adopted = new Map<string, Adopted>();

  constructor(host: TakeoverHost) {
    this.#host = host;
  }

  /** Names taken over and not yet handed back. */
  get pending(): number {
    return this.#adopted.size;
  }

  isPartner(id: string): boolean {
    return this.#partners.has(id);
  }

  /** `id` is a member at the partner's endpoint; the adopted names it holds are shadowed from now. */
  pairWith(id: string): void {
    if (this.#partners.has(id)) return;
    this.#touchAdopted(id);
    this.#partners.add(id);
  }

  /** Forgets a partner id whose origin was dropped. */
  forget(id: string): void {
    this.#touchAdopted(id);
    this.#partners.delete(id);
  }

  /** Whether a record is the partner's copy of a name we hold for it. */
  shadows(record: NameRecord): boolean {
    return this.#adopted.has(record.name) && this.#partners.has(record.origin);
  }

  /**
   * The partner `id` went down: each of its live names we do not hold ourselves becomes
   * ours. Returns our new records, for the caller to push and persist.
   */
  adopt(now: number, id: string): NameRecord[] {
    if (!this.#partners.has(id)) return [];
    const { self, store } = this.#host;
    const adopted: NameRecord[] = [];
    for (const [name, { record }] of store.origin(id)?.records ?? []) {
      // A name still adopted from an earlier takeover is ours already, as we left it.
      if (record.uri === null || this.#adopted.has(name) || store.get(self, name)?.uri) continue;
      const mine = this.#host.write(now, name, record.claim, record.uri, record.metadata);
      this.#adopted.set(name, { uri: record.uri, metadata: record.metadata, claim: record.claim, version: mine.version });
      adopted.push(mine);
    }
    return adopted;
  }

  /** Up to `max` adopted names to hand back, each with whether our copy goes back unchanged. */
  handback(max: number): HandbackEntry[] {
    const entries: HandbackEntry[] = [];
    for (const [name, adopted] of this.#adopted) {
      if (entries.length >= max) break;
      const mine = this.#host.store.get(this.#host.self, name);
      const back = mine !== undefined && mine.uri !== null && mine.version === adopted.version;
      entries.push({ name, uri: adopted.uri, metadata: adopted.metadata, claim: adopted.claim, back });
    }
    return entries;
  }

  /**
   * On the partner that is back: takes its names back as the survivor held them for it.
   * A name it changed or removed itself since (a partition: it was alive) keeps its own
   * state. A name the survivor changed or removed drops our record of it only if that is
   * `stale`: restored from storage at start, unchanged since (a registrar that registered it
   * here again since, as a daemon moving back to us does, keeps it). Returns the records
   * written, for the caller to push, persist and answer with.
   */
  takeBack(now: number, entries: readonly HandbackEntry[], stale: (name: string) => boolean): NameRecord[] {
    const { self, store } = this.#host;
    const written: NameRecord[] = [];
    for (const entry of entries) {
      const mine = store.get(self, entry.name);
      if (mine && (mine.uri === null || mine.uri !== entry.uri)) continue;
      if (!entry.back) {
        // The survivor changed or removed it while we were down: our old record goes. Holding
        // none, we still write a tombstone: replicas may hold an old record of ours (the same
        // id, restarted without it), which would otherwise show again now that we are back.
        if (!mine || stale(entry.name)) written.push(this.#host.write(now, entry.name, mine?.claim ?? entry.claim, null, []));
        continue;
      }
      if (mine && mine.claim === entry.claim && sameTags(mine.metadata, entry.metadata)) continue;
      written.push(this.#host.write(now, entry.name, entry.claim, entry.uri, entry.metadata));
    }
    return written;
  }

  /**
   * The partner accepted `entries` (its records are already applied): our unchanged copies
   * go, and its records show again. Returns our tombstones, for the caller to push and persist.
   */
  settle(now: number, entries: readonly HandbackEntry[]): NameRecord[] {
    const { self, store, view } = this.#host;
    const removed: NameRecord[] = [];
    for (const entry of entries) {
      const adopted = this.#adopted.get(entry.name);
      if (!adopted) continue;
      view.touch(entry.name);
      this.#adopted.delete(entry.name);
      const mine = store.get(self, entry.name);
      // Changed here since the handback was sent (a registration on this nameserver): it stays ours.
      if (!entry.back || !mine?.uri || mine.version !== adopted.version) continue;
      removed.push(this.#host.write(now, entry.name, mine.claim, null, []));
    }
    return removed;
  }

  /** The partner will not take its names back (it is not paired with us): they stay ours, unshadowed. */
  abandon(): void {
    for (const name of this.#adopted.keys()) this.#host.view.touch(name);
    this.#adopted.clear();
  }

  #touchAdopted(origin: string): void {
    const records = this.#host.store.origin(origin)?.records;
    if (!records) return;
    for (const name of this.#adopted.keys()) if (records.has(name)) this.#host.view.touch(name);
  }
}
