import { NamingError } from "../errors.js";
import { validateTags } from "../names.js";
import { checkRecord, checkRecordName, checkRecordUri, isOriginId, MAX_COUNTER, type NameRecord } from "./name-record.js";
import { MAX_HANDBACK, type HandbackEntry } from "./pair-message.js";
import { MAX_HOPS, MAX_ORIGINS, MAX_PUSH_RECORDS, type DigestMessage, type ReplicaMessage } from "./replica-message.js";
import { digestHash } from "./replica-hash.js";
import { ReplicaIntake, type ReplicaStats } from "./replica-intake.js";
import { isRemoteOrigin } from "./remote-origin.js";
import { OriginLiveness } from "./replica-liveness.js";
import { answerDigest } from "./replica-packer.js";
import { RemoteOrigins } from "./replica-remote.js";
import { ReplicaStore } from "./replica-store.js";
import { Takeover } from "./replica-takeover.js";
import { DEFAULT_REPLICA_TIMING, type ReplicaTiming } from "./replica-timing.js";
import { NameView, type Conflict, type NameEvent } from "./replica-view.js";

export type { Conflict, NameEvent } from "./replica-view.js";
export type { ReplicaStats } from "./replica-intake.js";

/** Who this nameserver is, what it persisted, and how replication runs. */
export interface ReplicaOptions {
  /** This nameserver's member id, the origin of its records (32 lowercase hex). */
  readonly self: string;
  /** The last version this origin used, as persisted: the next change takes the one after. */
  readonly version?: number;
  /** The last Lamport time, as persisted (claims then stay above every claim seen before a restart). */
  readonly clock?: number;
  /** Random numbers in [0, 1): Math.random, or a seeded generator in tests and the simulator. */
  readonly random?: () => number;
  readonly timing?: Partial<ReplicaTiming>;
}

/** A message for the driver to send to a member (by id). */
export interface ReplicaSend {
  readonly to: string;
  readonly message: ReplicaMessage;
}

/** What one step asks the driver to do: messages to send, naming events to emit. */
export interface ReplicaOutput {
  readonly sends: ReplicaSend[];
  readonly events: NameEvent[];
}

/** A local change's output, with the record it made (undefined when there was nothing to change). */
export interface LocalChange extends ReplicaOutput {
  readonly record: NameRecord | undefined;
}

/** A step that wrote records of our own origin (a takeover or handback): the records, for storage. */
export interface OwnChanges extends ReplicaOutput {
  readonly records: readonly NameRecord[];
}

const byVersion = (a: NameRecord, b: NameRecord): number => a.version - b.version;

/**
 * The registry of one nameserver as a replica of the cluster's, a pure state machine (no
 * I/O, no clock): the driver feeds it the time, membership changes and peer messages, and
 * carries out what each step returns. Every record is owned by its origin and versioned by
 * its counter, so "the higher version wins" is safe. A change is pushed at once to a few
 * live peers, and each replica forwards it once, the first time it gets it; every
 * antiEntropyInterval, and on each new link, two replicas compare digests (per origin, the
 * version they are complete up to) and send each other what the other lacks. Deletes are
 * tombstones. Origins declared dead or gone are hidden at once and dropped after a grace.
 *
 * The driver calls `peerUp` for every member membership reports joined or alive again, and
 * `peerDown` for one declared dead or left: every member is both a peer to send to and an
 * origin whose names to show. Records of an origin never reported up stay hidden.
 */
export class RegistryReplica {
  readonly #self: string;
  readonly #timing: ReplicaTiming;
  readonly #random: () => number;
  readonly #store = new ReplicaStore();
  readonly #view: NameView;
  #version: number;
  #clock: number;
  readonly #liveness: OriginLiveness;
  readonly #intake: ReplicaIntake;
  readonly #takeover: Takeover;
  readonly #remote: RemoteOrigins;
  #nextRound = NaN;
  #nextPrune = NaN;
  #sends: ReplicaSend[] = [];

  constructor(options: ReplicaOptions) {
    if (!isOriginId(options.self)) throw new NamingError("self must be 32 lowercase hex characters");
    for (const [what, value] of [["version", options.version], ["clock", options.clock]] as const) {
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) throw new NamingError(`${what} must be a non-negative safe integer`);
    }
    this.#self = options.self;
    this.#timing = { ...DEFAULT_REPLICA_TIMING, ...options.timing };
    this.#random = options.random ?? Math.random;
    this.#version = options.version ?? 0;
    this.#clock = options.clock ?? 0;
    this.#store.ensure(this.#self).raise(this.#version);
    this.#liveness = new OriginLiveness(this.#self);
    this.#view = new NameView(this.#store, (record) => this.#liveness.visible(record.origin) && !this.#takeover.shadows(record));
    this.#intake = new ReplicaIntake(this.#self, this.#store, this.#view, this.#liveness);
    this.#takeover = new Takeover({ self: this.#self, store: this.#store, view: this.#view, write: (now, name, claim, uri, metadata) => this.#write(now, name, claim, uri, metadata) });
    this.#remote = new RemoteOrigins({
      self: this.#self, store: this.#store, view: this.#view, liveness: this.#liveness, stats: this.#intake.stats, timing: this.#timing, random: this.#random,
      send: (to, message) => this.#send(to, message),
      digest: (reply) => this.#digestMessage(reply),
      see: (claim) => void (this.#clock = Math.max(this.#clock, claim)),
    });
  }

  get self(): string {
    return this.#self;
  }

  /** The last version this origin used: persist it before acknowledging a change. */
  get version(): number {
    return this.#version;
  }

  /** The Lamport time: persist it with the version. */
  get clock(): number {
    return this.#clock;
  }

  get stats(): Readonly<ReplicaStats> {
    return { ...this.#intake.stats };
  }

  /**
   * Takes back this origin's own records as persisted before a restart, with their versions
   * and claims (re-registering would take new claims, and could lose names it had won).
   */
  restore(now: number, records: readonly NameRecord[]): ReplicaOutput {
    const own = this.#store.ensure(this.#self);
    for (const value of records) {
      const record = checkRecord(value);
      if (record.origin !== this.#self) throw new NamingError(`a record of origin ${record.origin} is not this nameserver's own`);
      if ((this.#store.get(this.#self, record.name)?.version ?? 0) >= record.version) continue;
      this.#view.touch(record.name);
      this.#store.put(record, now);
      this.#version = Math.max(this.#version, record.version);
      this.#clock = Math.max(this.#clock, record.claim);
    }
    own.raise(this.#version);
    return this.#flush();
  }

  /** Registers `name` here (replacing our own record of it: its claim is kept). Throws NamingError on an invalid name, URI or tags. */
  register(now: number, name: string, uri: string, metadata: readonly string[] = []): LocalChange {
    checkRecordName(name);
    const fields = { uri: checkRecordUri(uri), metadata: validateTags(metadata) };
    const held = this.#store.get(this.#self, name);
    return this.#change(now, name, held?.uri ? held.claim : this.#nextClaim(), fields.uri, fields.metadata);
  }

  /** Removes our own record of `name` (a tombstone); no change when we hold none. */
  remove(now: number, name: string): LocalChange {
    const held = this.#store.get(this.#self, name);
    if (!held?.uri) return { ...this.#flush(), record: undefined };
    return this.#change(now, name, held.claim, null, []);
  }

  /** Replaces the tags of our own record of `name`; no change when we hold none. */
  setMetadata(now: number, name: string, metadata: readonly string[]): LocalChange {
    const tags = validateTags(metadata);
    const held = this.#store.get(this.#self, name);
    if (!held?.uri) return { ...this.#flush(), record: undefined };
    return this.#change(now, name, held.claim, held.uri, tags);
  }

  /**
   * This member's leader changed (the lowest live id, ourselves included): other clusters'
   * names are taken only from it, and stay shown while it takes them over (replica-remote.ts).
   */
  leaderChanged(now: number, leader: string): ReplicaOutput {
    if (isOriginId(leader)) this.#remote.leaderChanged(now, leader);
    return this.#flush();
  }

  /** A step of global discovery's bridge on the leader (writes of other clusters' names: RemoteOrigins), with its output. */
  bridge<T>(step: (remote: RemoteOrigins) => T): { readonly result: T; readonly output: ReplicaOutput } {
    const result = step(this.#remote);
    this.#remote.flushPushes();
    return { result, output: this.#flush() };
  }

  /** A member joined or is alive again: its names show, and we swap digests with it (`_now`: as peerDown takes it; joining starts no timer). */
  peerUp(_now: number, id: string): ReplicaOutput {
    if (id === this.#self || !isOriginId(id) || isRemoteOrigin(id)) return this.#flush();
    // Touched before the change, so the view compares what showed before with what shows after.
    this.#touchOrigin(id);
    this.#liveness.up(id);
    this.#send(id, this.#digestMessage(true));
    return this.#flush();
  }

  /** A member was declared dead or left: its names are hidden at once, and dropped after originGrace unless it comes back. */
  peerDown(now: number, id: string): ReplicaOutput {
    if (id === this.#self || !isOriginId(id)) return this.#flush();
    this.#touchOrigin(id);
    this.#liveness.down(now, id);
    return this.#flush();
  }

  /** Member `id` is (or was) this nameserver's pair partner: takeover and handback apply to it (see replica-takeover.ts). */
  pairWith(id: string): void {
    if (id !== this.#self && isOriginId(id)) this.#takeover.pairWith(id);
  }

  /**
   * Our partner was declared dead or left: its names are hidden, and in the same step its
   * live names become ours, so none stops answering here. The records are for storage.
   */
  takeover(now: number, id: string): OwnChanges {
    if (id === this.#self || !isOriginId(id)) return { ...this.#flush(), records: [] };
    this.#touchOrigin(id);
    this.#liveness.down(now, id);
    return this.#ownChanges(this.#takeover.adopt(now, id));
  }

  /** Names taken over from the partner to hand back now that it is live, in one request's worth. */
  handback(): HandbackEntry[] {
    return this.#takeover.handback(MAX_HANDBACK);
  }

  /** Names taken over and not yet handed back. */
  get adopted(): number {
    return this.#takeover.pending;
  }

  /** On the partner that is back: takes its names back from the survivor (takeBack in replica-takeover.ts). */
  takeBack(now: number, entries: readonly HandbackEntry[], stale: (name: string) => boolean): OwnChanges {
    return this.#ownChanges(this.#takeover.takeBack(now, entries, stale));
  }

  /** The partner accepted a handback: its records (the answer) first, then our copies go. */
  settleHandback(now: number, entries: readonly HandbackEntry[], records: readonly NameRecord[]): OwnChanges {
    this.#see(records);
    this.#intake.take(now, records);
    return this.#ownChanges(this.#takeover.settle(now, entries));
  }

  /** The partner refuses our handback (it is not paired with us): the adopted names stay ours. */
  abandonHandback(): ReplicaOutput {
    this.#takeover.abandon();
    return this.#flush();
  }

  /** Our own record of a name (live or a tombstone), if we hold one. */
  own(name: string): NameRecord | undefined {
    return this.#store.get(this.#self, name);
  }

  /** Whether this replica holds `record`'s change or a newer one (what a partner acknowledges). */
  holds(record: NameRecord): boolean {
    const entry = this.#store.origin(record.origin);
    return entry !== undefined && (entry.complete >= record.version || (entry.records.get(record.name)?.record.version ?? 0) >= record.version);
  }

  /** Runs the timers: anti-entropy rounds, tombstone pruning, origins past their grace. */
  tick(now: number): ReplicaOutput {
    const pruneEvery = Math.max(this.#timing.antiEntropyInterval, this.#timing.tombstoneTtl / 8);
    if (Number.isNaN(this.#nextRound)) {
      // Rounds start at a random phase, so a crowd started together does not sync in step.
      this.#nextRound = now + this.#random() * this.#timing.antiEntropyInterval;
      this.#nextPrune = now + pruneEvery;
    }
    if (now >= this.#nextRound) {
      this.#nextRound = now + this.#timing.antiEntropyInterval;
      const [peer] = this.#liveness.pick(1, new Set(), this.#random);
      if (peer) this.#send(peer, { kind: "summary", from: this.#self, hash: this.digestHash() });
    }
    for (const id of this.#liveness.expired(now, this.#timing.originGrace)) {
      // Dropped: its version stays in our digest while it is gone, so peers do not send it again.
      this.#liveness.dropped(now, id, this.#store.origin(id)?.complete ?? 0);
      this.#takeover.forget(id);
      this.#store.dropOrigin(id);
      this.#intake.forget(id);
    }
    this.#liveness.forget(now, this.#timing.originGrace);
    this.#remote.tick(now);
    if (now >= this.#nextPrune) {
      this.#nextPrune = now + pruneEvery;
      this.#store.prune(now, this.#timing.tombstoneTtl);
    }
    return this.#flush();
  }

  /** The earliest time `tick` has work to do (-Infinity before the first tick). */
  nextDeadline(): number {
    if (Number.isNaN(this.#nextRound)) return -Infinity;
    return Math.min(this.#liveness.peerCount > 0 ? this.#nextRound : Infinity, this.#nextPrune, this.#liveness.nextDeadline(this.#timing.originGrace), this.#remote.nextDeadline());
  }

  /** A message from a peer, validated by parseReplicaMessage. */
  receive(now: number, received: ReplicaMessage): ReplicaOutput {
    if (received.from === this.#self) return this.#flush();
    // Other clusters' names only from our leader; and never forwarded (it pushes them to everyone).
    const message = this.#remote.screen(now, received);
    switch (message.kind) {
      case "push": {
        this.#see(message.records);
        const fresh = this.#remote.forwardable(this.#intake.take(now, message.records));
        if (fresh.length > 0 && message.hops < MAX_HOPS) this.#push(fresh, message.hops + 1, message.from);
        break;
      }
      case "summary":
        if (message.hash !== this.digestHash()) this.#send(message.from, this.#digestMessage(true));
        break;
      case "digest":
        this.#checkCounter(message.versions[this.#self]);
        for (const records of answerDigest(this.#store, this.#self, message, (origin) => this.#remote.withhold(origin))) this.#send(message.from, records);
        const taken = this.#remote.assertions(message);
        if (taken) this.#send(message.from, taken);
        if (message.reply) this.#send(message.from, this.#digestMessage(false));
        break;
      case "records":
        this.#see(message.records);
        this.#intake.take(now, message.records);
        this.#intake.cover(now, message);
        break;
    }
    return this.#flush();
  }

  /** The visible record of a name: the earliest claim among live records of visible origins. */
  lookup(name: string): NameRecord | undefined {
    return this.#view.winner(name);
  }

  /** The visible record a qualified form (`name,<origin hex>`, see name-record.ts) names, winner or loser. */
  lookupQualified(text: string): NameRecord | undefined {
    return this.#view.lookupQualified(text);
  }

  /** The shortest qualified form of a record (at least 8 hex digits) that no other origin holding its name shares. */
  qualifiedName(record: NameRecord): string {
    return this.#view.qualifiedName(record);
  }

  /** Every visible record, by name. */
  list(): NameRecord[] {
    return this.#view.list();
  }

  count(): number {
    return this.#view.count();
  }

  /** Names claimed by more than one visible origin, by name. */
  conflicts(): Conflict[] {
    return this.#view.conflicts();
  }

  /** Per origin, the version this replica is complete up to (origins dropped past their grace included). */
  digest(): Record<string, number> {
    const versions: Record<string, number> = {};
    let n = 0;
    for (const [origin, entry] of this.#store.origins()) if (entry.complete > 0 && n++ < MAX_ORIGINS) versions[origin] = entry.complete;
    for (const [origin, gone] of this.#liveness.goneVersions()) if (gone.complete > 0 && n++ < MAX_ORIGINS) versions[origin] = gone.complete;
    return versions;
  }

  /** A hash of the digest: equal on two replicas when they hold the same versions. */
  digestHash(): string {
    return digestHash(this.digest());
  }

  /** Every record held of an origin, tombstones included, by version. */
  records(origin: string): NameRecord[] {
    return [...(this.#store.origin(origin)?.records.values() ?? [])].map((held) => held.record).sort(byVersion);
  }

  #nextClaim(): number {
    // A peer's claim at the limit would stop all registrations; ties fall to the origin id instead.
    this.#clock = Math.min(this.#clock + 1, MAX_COUNTER);
    return this.#clock;
  }

  #change(now: number, name: string, claim: number, uri: string | null, metadata: readonly string[]): LocalChange {
    const record = this.#write(now, name, claim, uri, metadata);
    this.#push([record], 0, undefined);
    return { ...this.#flush(), record };
  }

  /** Holds a new change of our own origin (not pushed yet). */
  #write(now: number, name: string, claim: number, uri: string | null, metadata: readonly string[]): NameRecord {
    if (this.#version >= MAX_COUNTER) throw new NamingError("this nameserver's version counter is exhausted");
    const record: NameRecord = { origin: this.#self, version: ++this.#version, name, claim, uri, metadata };
    // A claim taken over from the partner may be above our clock: later claims must come after it.
    this.#clock = Math.max(this.#clock, claim);
    this.#view.touch(name);
    this.#store.put(record, now);
    this.#store.ensure(this.#self).raise(record.version);
    return record;
  }

  /** Pushes records of our own origin written in one step, in pushes of at most MAX_PUSH_RECORDS. */
  #ownChanges(records: readonly NameRecord[]): OwnChanges {
    for (let i = 0; i < records.length; i += MAX_PUSH_RECORDS) this.#push(records.slice(i, i + MAX_PUSH_RECORDS), 0, undefined);
    return { ...this.#flush(), records };
  }

  /** Pushes `records` to pushFanout random live peers other than the sender and their origins. */
  #push(records: readonly NameRecord[], hops: number, from: string | undefined): void {
    const exclude = new Set(records.map((r) => r.origin));
    if (from) exclude.add(from);
    for (const to of this.#liveness.pick(this.#timing.pushFanout, exclude, this.#random)) this.#send(to, { kind: "push", from: this.#self, hops, records });
  }

  /** Lamport: the clock stays at or above every claim seen, so our next claim comes after them. */
  #see(records: readonly NameRecord[]): void {
    for (const record of records) if (record.origin !== this.#self) this.#clock = Math.max(this.#clock, record.claim);
  }

  #digestMessage(reply: boolean): DigestMessage {
    return { kind: "digest", from: this.#self, versions: this.digest(), reply };
  }

  /** A peer holds our origin above our counter: the persisted version was lost; new changes must go above it. */
  #checkCounter(theirs: number | undefined): void {
    if (theirs === undefined || theirs <= this.#version) return;
    this.#version = theirs;
    this.#store.ensure(this.#self).raise(theirs);
    this.#intake.stats.counterJumps++;
  }

  #touchOrigin(origin: string): void {
    for (const [name, { record }] of this.#store.origin(origin)?.records ?? []) if (record.uri !== null) this.#view.touch(name);
  }

  #send(to: string, message: ReplicaMessage): void {
    this.#sends.push({ to, message });
  }

  #flush(): ReplicaOutput {
    const out = { sends: this.#sends, events: this.#view.events() };
    this.#sends = [];
    return out;
  }
}
