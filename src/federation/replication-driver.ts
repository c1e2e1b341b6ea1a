import type { PeerChange, PeerInfo } from "./member.js";
import type { NameRecord } from "./name-record.js";
import { PairLink, type OwnNames, type PairStats } from "./pair-link.js";
import { refusal, type ConfirmRequest, type PairAnswer, type PairRequest } from "./pair-message.js";
import type { PeerAddress } from "./peer-links.js";
import { RegistryReplica, type Conflict, type LocalChange, type NameEvent, type ReplicaOutput, type ReplicaStats } from "./registry-replica.js";
import type { RemoteOrigins } from "./replica-remote.js";
import type { ReplicaMessage } from "./replica-message.js";
import type { ReplicaTiming } from "./replica-timing.js";

/** What replication counted: the replica's own counters, and what the driver dropped. */
export interface ReplicationStats extends ReplicaStats {
  /** Replica messages from nameservers that are not live members: ignored. */
  readonly notMember: number;
  /** Replica messages for a member whose contact is not in the heartbeat table: not sent. */
  readonly unaddressed: number;
  /** Confirmations, takeovers and handbacks, on a paired nameserver. */
  readonly pair?: PairStats;
}

/**
 * What a local change returns: undefined when it is done, or (on a paired nameserver whose
 * partner is live) a promise that settles once the partner holds it, or PAIR_ACK_MS passed.
 * It never rejects.
 */
export type Acknowledgement = Promise<void> | undefined;

/**
 * The cluster's registry as this nameserver holds it: its own registrations, published
 * here, and everyone's, answered from the local replica (no network hop).
 */
export interface ReplicatedNames {
  /** Publishes a registration made on this nameserver (its origin). Throws NamingError on an invalid name, URI or tags. */
  register(name: string, uri: string, metadata: readonly string[]): Acknowledgement;
  /** Publishes the removal of this nameserver's own registration of `name`. */
  remove(name: string): Acknowledgement;
  /** Publishes new tags for this nameserver's own registration of `name`. */
  setMetadata(name: string, metadata: readonly string[]): Acknowledgement;
  /** The visible record of a name (the winner when several origins claim it). */
  lookup(name: string): NameRecord | undefined;
  /** The record a qualified form `name,<origin hex>` names, winner or loser. */
  lookupQualified(text: string): NameRecord | undefined;
  /** The shortest qualified form that reaches `record`. */
  qualifiedName(record: NameRecord): string;
  /** Every visible record, one per name. */
  list(): NameRecord[];
  count(): number;
  /** Names claimed by more than one visible origin. */
  conflicts(): Conflict[];
}

/** What the driver needs of the federation around it. */
export interface ReplicationHost {
  /** Sends a message to a member's nameserver (never throws, never waits). */
  readonly send: (to: PeerAddress, message: ReplicaMessage) => void;
  /** Where the replica's naming events go. */
  readonly emit: (event: NameEvent) => void;
  /** Counters to continue from after a restart, and where to keep them after each local change. */
  readonly counters?: { readonly version: number; readonly clock: number; readonly reached: (version: number, clock: number) => void };
  /** Sends a pair request to a member's nameserver; resolves with its raw answer (needed to be paired, see pair-link.ts). */
  readonly request?: (to: PeerAddress, request: PairRequest, timeoutMs: number) => Promise<unknown>;
  /** The partner's `host:port`, on one nameserver of an active/standby pair. */
  readonly pair?: string;
  /** The nameserver's storage, kept in step with the pair's takeovers and handbacks. */
  readonly storage?: OwnNames;
  readonly warn?: (message: string) => void;
  /** The cluster's leader as this nameserver sees it changed (the lowest live id, itself included). */
  readonly leaderChanged?: (leader: string) => void;
}

/**
 * Runs a RegistryReplica inside a federation: membership changes become peerUp/peerDown,
 * replica messages are taken only from live members, sends go by member id to the
 * member's contact, and the replica's events are emitted. Time is the wall clock; the
 * federation's single timer calls `tick` at `nextDeadline`.
 */
export class ReplicationDriver implements ReplicatedNames {
  readonly #replica: RegistryReplica;
  readonly #host: ReplicationHost;
  /** Each member's contact, by id: cached from the peer events, refreshed from the table on a miss. */
  readonly #contacts = new Map<string, PeerAddress>();
  /** Members that are alive or suspect: the only senders whose replica messages count. */
  readonly #live = new Set<string>();
  /** The pair's side of replication, when the nameserver has a partner. */
  readonly #pair: PairLink | undefined;
  /**
   * Our names restored from storage as the nameserver started, unchanged since: a partner's
   * handback may find them stale (see replica-takeover.ts). Only names published while
   * `#restoring` count, so a registration made since is never taken for a stale copy.
   */
  readonly #restored = new Set<string>();
  #restoring = false;
  #notMember = 0;
  #unaddressed = 0;
  readonly #self: string;
  /** The lowest live id, ours included: the one member that bridges the cluster to etcd (src/global). */
  #leader: string;
  /** After the federation left: the view still follows local changes, nothing is sent. */
  #stopped = false;

  constructor(self: string, host: ReplicationHost, timing?: Partial<ReplicaTiming>) {
    this.#replica = new RegistryReplica({ self, ...(timing && { timing }), ...(host.counters && { version: host.counters.version, clock: host.counters.clock }) });
    this.#host = host;
    this.#self = self;
    this.#leader = self;
    this.#carry(this.#replica.leaderChanged(Date.now(), self));
    const request = host.request;
    this.#pair =
      host.pair === undefined || !request
        ? undefined
        : new PairLink(host.pair, {
            self,
            replica: this.#replica,
            carry: (output) => this.#own(output),
            request: (to, message, timeoutMs) => (this.#stopped ? Promise.reject(new Error("federation stopped")) : request(to, message, timeoutMs)),
            ...(host.storage && { storage: host.storage }),
            // Asked once per name: a handback reconciles a restored name, which is not stale for another.
            restored: (name) => this.#restored.delete(name),
            warn: host.warn ?? ((message) => process.emitWarning(message, "PyroFederationWarning")),
          });
  }

  get stats(): ReplicationStats {
    return { ...this.#replica.stats, notMember: this.#notMember, unaddressed: this.#unaddressed, ...(this.#pair && { pair: this.#pair.stats }) };
  }

  /** A membership event: joined or alive again shows the member's names, dead or left hides them. */
  memberChanged(now: number, { change, peer }: PeerChange): void {
    if (peer.self) return;
    const pair = this.#pair?.endpoint === peer.endpoint ? this.#pair : undefined;
    if (change === "dead" || change === "left") {
      // Nothing is sent to a member that is down: its contact is dropped with it.
      this.#contacts.delete(peer.id);
      if (!this.#live.delete(peer.id)) return;
      // The partner's names are taken over in the step that hides them: none stops answering here.
      if (pair && !this.#stopped) pair.partnerDown(now, peer.id);
      else this.#carry(this.#replica.peerDown(now, peer.id));
      this.#elect(now);
      return;
    }
    // Joined, alive, or suspect (a suspect is still a member; one that was dead may come back
    // as suspect): its names show from the moment it is live, once, not again at each refutation.
    this.#contacts.set(peer.id, contactOf(peer));
    pair?.partnerLive(now, peer.id, contactOf(peer));
    if (this.#live.has(peer.id)) return;
    this.#live.add(peer.id);
    this.#carry(this.#replica.peerUp(now, peer.id));
    this.#elect(now);
  }

  /** The cluster's leader as this nameserver sees it: the lowest live id, its own included. */
  get leader(): string {
    return this.#leader;
  }

  /** A step of global discovery's bridge on the replica's remote origins (replica-remote.ts); its messages go out. */
  bridge<T>(step: (remote: RemoteOrigins) => T): T {
    const { result, output } = this.#replica.bridge(step);
    this.#carry(output);
    return result;
  }

  /** Recomputes the leader after a membership change; the replica and the host hear of a new one. */
  #elect(now: number): void {
    let leader = this.#self;
    for (const id of this.#live) if (id < leader) leader = id;
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#carry(this.#replica.leaderChanged(now, leader));
    this.#host.leaderChanged?.(leader);
  }

  /** A replica message from the inbox, already validated; ignored unless its sender is a live member. */
  receive(now: number, message: ReplicaMessage): void {
    if (!this.#live.has(message.from)) {
      this.#notMember++;
      return;
    }
    this.#carry(this.#replica.receive(now, message));
    if (message.kind === "digest") this.#pair?.digestAnswered(now, message.from);
  }

  /** A pair request from the inbox, already validated: answered at once. */
  request(now: number, request: PairRequest): PairAnswer {
    if (!this.#live.has(request.from)) {
      this.#notMember++;
      return refusal("not-member", `${request.from} is not a live member here`);
    }
    if (request.kind === "confirm") return this.#confirmFor(now, request);
    return this.#pair ? this.#pair.answerHandback(now, request) : refusal("not-partner", "this nameserver has no pair partner");
  }

  tick(now: number): void {
    this.#carry(this.#replica.tick(now));
    this.#pair?.tick(now);
  }

  nextDeadline(): number {
    return this.#replica.nextDeadline();
  }

  /** Stops sending (the federation left); local changes still reach the view and its events. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Registrations from now until `restored()` publish what the nameserver's storage held
   * before it started (the nameserver does so in the turn its federation starts).
   */
  restoring(): void {
    this.#restoring = true;
  }

  restored(): void {
    this.#restoring = false;
  }

  register(name: string, uri: string, metadata: readonly string[]): Acknowledgement {
    const change = this.#replica.register(Date.now(), name, uri, metadata);
    if (this.#restoring) this.#restored.add(name);
    else this.#restored.delete(name);
    return this.#local(change);
  }

  remove(name: string): Acknowledgement {
    this.#restored.delete(name);
    return this.#local(this.#replica.remove(Date.now(), name));
  }

  setMetadata(name: string, metadata: readonly string[]): Acknowledgement {
    this.#restored.delete(name);
    return this.#local(this.#replica.setMetadata(Date.now(), name, metadata));
  }

  /** A local change: kept and spread, then (paired) confirmed to the partner before it is acknowledged. */
  #local(change: LocalChange): Acknowledgement {
    this.#own(change);
    return this.#stopped ? undefined : this.#pair?.confirm(change.record);
  }

  /** A step that changed our own records: its counters are kept (a restart must not reuse them) before it spreads. */
  #own(output: ReplicaOutput): void {
    this.#host.counters?.reached(this.#replica.version, this.#replica.clock);
    this.#carry(output);
  }

  /**
   * A member's changes to hold before it acknowledges them (any live member may ask, paired
   * with us or not): taken as a push of its own, forwarded as one, and accepted once held.
   */
  #confirmFor(now: number, request: ConfirmRequest): PairAnswer {
    if (request.records.some((record) => record.origin !== request.from)) return refusal("forged", "a member confirms only records of its own origin");
    this.#carry(this.#replica.receive(now, { kind: "push", from: request.from, hops: 0, records: request.records }));
    const missing = request.records.find((record) => !this.#replica.holds(record));
    return missing ? refusal("forged", `${missing.name} version ${missing.version} was not taken`) : { kind: "accepted", records: [] };
  }

  lookup(name: string): NameRecord | undefined {
    return this.#replica.lookup(name);
  }

  lookupQualified(text: string): NameRecord | undefined {
    return this.#replica.lookupQualified(text);
  }

  qualifiedName(record: NameRecord): string {
    return this.#replica.qualifiedName(record);
  }

  list(): NameRecord[] {
    return this.#replica.list();
  }

  count(): number {
    return this.#replica.count();
  }

  conflicts(): Conflict[] {
    return this.#replica.conflicts();
  }

  /** Carries out a replica step: its messages to members' contacts, its events to the host. */
  #carry(output: ReplicaOutput): void {
    if (!this.#stopped) {
      for (const { to, message } of output.sends) {
        const contact = this.#contacts.get(to);
        if (contact) this.#host.send(contact, message);
        else this.#unaddressed++;
      }
    }
    for (const event of output.events) this.#host.emit(event);
  }

}

function contactOf(peer: PeerInfo): PeerAddress {
  return { endpoint: peer.endpoint, ...(peer.key && { key: peer.key }) };
}
