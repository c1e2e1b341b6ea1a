import { MAX_COUNTER, type NameRecord } from "./name-record.js";
import type { OriginLiveness } from "./replica-liveness.js";
import type { ReplicaStats } from "./replica-intake.js";
import { MAX_ORIGINS, MAX_PUSH_RECORDS, type DigestMessage, type RecordsMessage, type ReplicaMessage, type VersionRange } from "./replica-message.js";
import { RecordsPacker } from "./replica-packer.js";
import type { ReplicaStore } from "./replica-store.js";
import type { ReplicaTiming } from "./replica-timing.js";
import type { NameView } from "./replica-view.js";
import { isRemoteOrigin } from "./remote-origin.js";

/** A name of another cluster as etcd holds it: what the leader writes as a record of that cluster's origin. */
export interface RemoteEntry {
  readonly name: string;
  /** Formatted as a record carries it (checkRecordUri). */
  readonly uri: string;
  /** Normalised tags. */
  readonly metadata: readonly string[];
  /** The name's etcd create revision: the same claim whichever leader writes it, and as long as the key lives. */
  readonly claim: number;
}

/**
 * Versions of remote origins come in terms: a term is an etcd revision T that the bridging
 * leader obtained with a write of its own, so terms are unique and a later leader's is
 * higher; its versions of each remote origin are T × TERM_SPAN + 1, + 2, ... So a new
 * leader's versions are above every version an earlier one wrote (even ones it never
 * received), and two leaders never write one version with different contents.
 */
export const TERM_SPAN = 2 ** 20;
/** The highest term whose versions stay within MAX_COUNTER (etcd revision 2^33 − 2). */
export const MAX_TERM = Math.floor(MAX_COUNTER / TERM_SPAN) - 1;
/** Least time between two requests to the leader prompted by a peer's digest. */
const NUDGE_SPACING_MS = 1000;

/** What the remote origins need of their replica. */
export interface RemoteHost {
  readonly self: string;
  readonly store: ReplicaStore;
  readonly view: NameView;
  readonly liveness: OriginLiveness;
  readonly stats: ReplicaStats;
  readonly timing: ReplicaTiming;
  readonly random: () => number;
  send(to: string, message: ReplicaMessage): void;
  digest(reply: boolean): DigestMessage;
  /** Lamport: the replica's clock goes to at least `claim`. */
  see(claim: number): void;
}

/** What sync() could not write: origins whose names do not fit in the rest of the term. */
export type SyncResult = { readonly synced: true; readonly skipped: readonly string[] } | { readonly synced: false; readonly reason: "not-leader" | "no-term" };

/** The leader's term, and the next version of each remote origin within it. */
interface Bridging {
  readonly term: number;
  readonly next: Map<string, number>;
  synced: boolean;
  /** A member holds a remote origin above our versions (another leader's later term): a new term and sync are due. */
  behind: boolean;
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

const byName = (a: NameRecord, b: NameRecord): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Other clusters' names in this cluster's replicas (global discovery, src/global), pure.
 * The cluster's leader, and only it, writes them: records of one remote origin per cluster
 * (remote-origin.ts), in terms (TERM_SPAN), pushed to every live member at once; nobody
 * forwards them. A member takes records, ranges and snapshot parts of a remote origin only
 * from the member it holds the leader (the lowest live id, itself included); from anyone
 * else they are refused and counted (`remoteForged`), so a deposed or partitioned leader
 * cannot bring back what the current one removed.
 *
 * A remote origin shows while the leader publishes it. When the leader changes, every
 * member keeps showing what it has (the origin is nobody's member, so no death hides it)
 * and asks the new leader for its digest answer; the new leader, once its bridge has
 * listed etcd, rewrites every remote name in a new term, tombstones those etcd no longer
 * holds, and sends every member a snapshot of each origin (which drops anything the old
 * leader wrote that it never received). An origin the new leader does not take over within
 * remoteHandover is hidden, and dropped after originGrace like a dead member's.
 */
export class RemoteOrigins {
  readonly #host: RemoteHost;
  /** The leader as this member sees it (itself included); undefined before membership said anything. */
  #leader: string | undefined;
  /** Remote origins shown that the current leader has not taken over yet: when they are hidden. */
  readonly #pending = new Map<string, number>();
  #nextAsk = Infinity;
  #lastNudge = -Infinity;
  #bridging: Bridging | undefined;
  /** Remote records written in this step, pushed to every live member when the step ends. */
  #pushes: NameRecord[] = [];

  constructor(host: RemoteHost) {
    this.#host = host;
  }

  get leader(): string | undefined {
    return this.#leader;
  }

  /** Whether this replica is the bridging leader and has taken over from etcd in its term. */
  get synced(): boolean {
    return this.#bridging?.synced === true;
  }

  /** Whether a member holds a remote origin above this leader's versions: a new term and sync are due. */
  get behind(): boolean {
    return this.#bridging?.behind === true;
  }

  /** The current term, while bridging. */
  get term(): number | undefined {
    return this.#bridging?.term;
  }

  /**
   * This member's leader changed (membership: the lowest live id). Remote origins stay shown
   * while the new leader takes them over, for remoteHandover at most; the new leader is
   * asked at once for what we lack (our digest), and again every third of that meanwhile,
   * unless we show none.
   */
  leaderChanged(now: number, leader: string): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (leader !== this.#host.self) this.#bridging = undefined;
    this.#pending.clear();
    for (const origin of this.#host.liveness.remoteUp()) this.#pending.set(origin, now + this.#host.timing.remoteHandover);
    // Only a member showing other clusters' names asks (a plain federation sends nothing more); one showing none gets the new leader's snapshot.
    if (leader !== this.#host.self && this.#pending.size > 0) this.#ask(now);
    else this.#nextAsk = Infinity;
  }

  /**
   * A peer message, before the replica takes it: what of it concerns remote origins is
   * kept only if the current leader sent it (and then the origin shows); the rest is
   * refused and counted. A digest showing a remote origin ahead of ours prompts a request
   * to the leader; one ahead of the leader's own versions tells it to start a new term.
   */
  screen(now: number, message: ReplicaMessage): ReplicaMessage {
    switch (message.kind) {
      case "push": {
        const records = message.records.filter((r) => this.#admit(message.from, r.origin));
        return records.length === message.records.length ? message : { ...message, records };
      }
      case "records": {
        const records = message.records.filter((r) => this.#admit(message.from, r.origin));
        const ranges = message.ranges.filter((r) => this.#admit(message.from, r.origin));
        const snapshots = message.snapshots.filter((s) => this.#admit(message.from, s.origin));
        return { ...message, records, ranges, snapshots };
      }
      case "digest":
        this.#compare(now, message);
        return message;
      case "summary":
        return message;
    }
  }

  /** Records to forward: never a remote origin's (the leader pushes those to everyone). */
  forwardable(records: readonly NameRecord[]): NameRecord[] {
    return records.filter((record) => !isRemoteOrigin(record.origin));
  }

  /** Whether to leave an origin out of a digest answer: a remote one, unless we are the leader that took it over. */
  withhold(origin: string): boolean {
    return isRemoteOrigin(origin) && !this.synced;
  }

  /**
   * The leader answering a digest: a range that changes nothing for each remote origin the
   * asker holds, so a member that asked after a change of leader knows it was taken over.
   */
  assertions(digest: DigestMessage): RecordsMessage | undefined {
    if (!this.synced || digest.from === this.#host.self) return undefined;
    const ranges: VersionRange[] = [];
    for (const [origin, version] of Object.entries(digest.versions)) {
      if (ranges.length >= MAX_ORIGINS) break;
      if (isRemoteOrigin(origin) && this.#host.store.origin(origin)) ranges.push({ origin, after: version, through: version });
    }
    return ranges.length > 0 ? { kind: "records", from: this.#host.self, records: [], ranges, snapshots: [] } : undefined;
  }

  /** Runs the handover timers: asks the leader again, hides what it did not take over in time. */
  tick(now: number): void {
    for (const [origin, deadline] of [...this.#pending]) {
      if (now < deadline) continue;
      this.#pending.delete(origin);
      this.#touch(origin);
      this.#host.liveness.down(now, origin);
    }
    if (now >= this.#nextAsk) this.#ask(now);
  }

  nextDeadline(): number {
    let next = this.#nextAsk;
    for (const deadline of this.#pending.values()) next = Math.min(next, deadline);
    return next;
  }

  /**
   * This nameserver leads and bridges: its versions of remote origins from now on are in
   * `term` (an etcd revision it wrote, above every earlier term). A new term ends the last;
   * sync() must follow before it answers for remote origins. False when it does not lead.
   */
  startTerm(term: number): boolean {
    if (!Number.isSafeInteger(term) || term < 1 || term > MAX_TERM) throw new RangeError(`a term is an etcd revision from 1 to ${MAX_TERM}, not ${term}`);
    if (this.#leader !== this.#host.self) return false;
    if (this.#bridging && term <= this.#bridging.term) throw new RangeError(`term ${term} is not after the current term ${this.#bridging.term}`);
    this.#bridging = { term, next: new Map(), synced: false, behind: false };
    return true;
  }

  /** Versions of `origin` left in the term (0 when not bridging). */
  capacity(origin: string): number {
    const bridging = this.#bridging;
    if (!bridging) return 0;
    return (bridging.term + 1) * TERM_SPAN - this.#nextOf(bridging, origin);
  }

  /**
   * The leader takes over every remote origin from an etcd listing (by origin, its names):
   * each name is written again in this term, each name held live that the listing lacks is
   * tombstoned (origins held but absent from the listing included), and every live member
   * gets a snapshot of each origin. An origin whose names do not fit in the rest of the term
   * is skipped (and reported): start a new term and sync again.
   */
  sync(now: number, listing: ReadonlyMap<string, readonly RemoteEntry[]>): SyncResult {
    const bridging = this.#bridging;
    if (this.#leader !== this.#host.self) return { synced: false, reason: "not-leader" };
    if (!bridging) return { synced: false, reason: "no-term" };
    const { store, liveness } = this.#host;
    const origins = new Set([...listing.keys()].filter(isRemoteOrigin));
    for (const [origin] of store.origins()) if (isRemoteOrigin(origin)) origins.add(origin);
    const skipped: string[] = [];
    const packer = new RecordsPacker(this.#host.self);
    for (const origin of [...origins].sort()) {
      const entries = listing.get(origin) ?? [];
      const held = [...(store.origin(origin)?.records.values() ?? [])].filter((h) => h.record.uri !== null).length;
      if (entries.length + held > this.capacity(origin)) {
        skipped.push(origin);
        continue;
      }
      this.#show(origin);
      const entry = store.ensure(origin);
      // Every version before the term is answered for by this snapshot: a member below it gets the snapshot, whose absences drop what we never received.
      const base = bridging.term * TERM_SPAN;
      entry.raise(base);
      entry.floor = Math.max(entry.floor, base);
      const listed = new Set<string>();
      for (const e of entries) {
        listed.add(e.name);
        this.#write(now, bridging, origin, e.name, e.claim, e.uri, e.metadata);
      }
      for (const [name, { record }] of [...entry.records]) if (record.uri !== null && !listed.has(name)) this.#write(now, bridging, origin, name, record.claim, null, []);
      this.#pending.delete(origin);
      packer.addSnapshot(origin, entry.complete, entry.floor, [...entry.records.values()].map((h) => h.record).sort(byName));
    }
    bridging.synced = true;
    const messages = packer.finish();
    for (const peer of liveness.pick(Infinity, new Set(), this.#host.random)) for (const message of messages) this.#host.send(peer, message);
    return { synced: true, skipped };
  }

  /**
   * A change of one remote name in etcd (`entry` undefined: removed there), written by the
   * synced leader and pushed to every live member. "full" when the term has no version of
   * this origin left (start a new term, then sync), false when this replica does not bridge.
   */
  change(now: number, origin: string, name: string, entry: RemoteEntry | undefined): boolean | "full" {
    const bridging = this.#bridging;
    if (!bridging?.synced || this.#leader !== this.#host.self || !isRemoteOrigin(origin)) return false;
    const held = this.#host.store.get(origin, name);
    if (entry && held?.uri === entry.uri && held.claim === entry.claim && sameTags(held.metadata, entry.metadata)) return true;
    if (!entry && (!held || held.uri === null)) return true;
    if (this.capacity(origin) < 1) return "full";
    this.#show(origin);
    this.#pushes.push(entry ? this.#write(now, bridging, origin, name, entry.claim, entry.uri, entry.metadata) : this.#write(now, bridging, origin, name, held!.claim, null, []));
    return true;
  }

  /** This nameserver stops bridging (it no longer leads, or closes); its leader's change says the rest. */
  stopBridging(): void {
    this.#bridging = undefined;
  }

  /** Pushes this step's remote writes to every live member, in pushes of at most MAX_PUSH_RECORDS. */
  flushPushes(): void {
    const records = this.#pushes;
    if (records.length === 0) return;
    this.#pushes = [];
    const peers = this.#host.liveness.pick(Infinity, new Set(), this.#host.random);
    for (let i = 0; i < records.length; i += MAX_PUSH_RECORDS) {
      const message: ReplicaMessage = { kind: "push", from: this.#host.self, hops: 0, records: records.slice(i, i + MAX_PUSH_RECORDS) };
      for (const peer of peers) this.#host.send(peer, message);
    }
  }

  /** The names of this cluster's own nameservers, as shown: for each name, its earliest visible claim of a member origin, by name. */
  lanRecords(): NameRecord[] {
    const found: NameRecord[] = [];
    for (const name of this.#host.store.liveNames()) {
      const { winner, losers } = this.#host.view.standing(name);
      const own = [winner, ...losers].find((record): record is NameRecord => record !== undefined && !isRemoteOrigin(record.origin));
      if (own) found.push(own);
    }
    return found.sort(byName);
  }

  /** The live records of a remote origin held here, by name. */
  remoteRecords(origin: string): NameRecord[] {
    return [...(this.#host.store.origin(origin)?.records.values() ?? [])]
      .map((held) => held.record)
      .filter((record) => record.uri !== null)
      .sort(byName);
  }

  /** Whether to take what `from` says about `origin`: anything about a member origin, a remote origin's only from the leader (which then shows it). */
  #admit(from: string, origin: string): boolean {
    if (!isRemoteOrigin(origin)) return true;
    if (from !== this.#leader || from === this.#host.self) {
      this.#host.stats.remoteForged++;
      return false;
    }
    this.#pending.delete(origin);
    this.#show(origin);
    return true;
  }

  /** A peer's digest: a remote origin ahead of ours means the leader has more (ask it), or, on the leader, that another leader wrote later. */
  #compare(now: number, digest: DigestMessage): void {
    const { self, store } = this.#host;
    let ahead = false;
    for (const [origin, version] of Object.entries(digest.versions)) {
      if (isRemoteOrigin(origin) && version > (store.origin(origin)?.complete ?? 0)) {
        ahead = true;
        break;
      }
    }
    if (!ahead) return;
    if (this.#leader === self) {
      // Above the whole of our term: another leader wrote in a later one (a partition that healed).
      const bridging = this.#bridging;
      if (bridging) for (const [origin, version] of Object.entries(digest.versions)) if (isRemoteOrigin(origin) && version > (bridging.term + 1) * TERM_SPAN) bridging.behind = true;
    } else if (digest.from !== this.#leader && now - this.#lastNudge >= NUDGE_SPACING_MS) {
      this.#lastNudge = now;
      this.#sendDigest();
    }
  }

  #ask(now: number): void {
    this.#sendDigest();
    this.#nextAsk = this.#pending.size > 0 ? now + this.#host.timing.remoteHandover / 3 : Infinity;
  }

  #sendDigest(): void {
    const leader = this.#leader;
    if (leader !== undefined && leader !== this.#host.self) this.#host.send(leader, this.#host.digest(false));
  }

  /** Shows a remote origin (its names touched first, so the view tells what appears). */
  #show(origin: string): void {
    if (this.#host.liveness.visible(origin)) return;
    this.#touch(origin);
    this.#host.liveness.upRemote(origin);
  }

  #touch(origin: string): void {
    for (const [name, { record }] of this.#host.store.origin(origin)?.records ?? []) if (record.uri !== null) this.#host.view.touch(name);
  }

  #nextOf(bridging: Bridging, origin: string): number {
    let next = bridging.next.get(origin);
    if (next === undefined) {
      // Normally the term's first version; above anything held, should a record ever be (a term is never reused).
      let highest = bridging.term * TERM_SPAN;
      for (const { record } of this.#host.store.origin(origin)?.records.values() ?? []) highest = Math.max(highest, record.version);
      next = highest + 1;
      bridging.next.set(origin, next);
    }
    return next;
  }

  #write(now: number, bridging: Bridging, origin: string, name: string, claim: number, uri: string | null, metadata: readonly string[]): NameRecord {
    const version = this.#nextOf(bridging, origin);
    bridging.next.set(origin, version + 1);
    const record: NameRecord = { origin, version, name, claim, uri, metadata: [...metadata] };
    const { store, view } = this.#host;
    view.touch(name);
    store.put(record, now);
    store.ensure(origin).raise(version);
    this.#host.see(claim);
    return record;
  }
}
