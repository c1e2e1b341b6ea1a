import type { PeerChange, PeerInfo } from "./member.js";
import type { NameRecord } from "./name-record.js";
import type { PeerAddress } from "./peer-links.js";
import { RegistryReplica, type Conflict, type NameEvent, type ReplicaOutput, type ReplicaStats } from "./registry-replica.js";
import type { ReplicaMessage } from "./replica-message.js";
import type { ReplicaTiming } from "./replica-timing.js";

/** What replication counted: the replica's own counters, and what the driver dropped. */
export interface ReplicationStats extends ReplicaStats {
  /** Replica messages from nameservers that are not live members: ignored. */
  readonly notMember: number;
  /** Replica messages for a member whose contact is not in the heartbeat table: not sent. */
  readonly unaddressed: number;
}

/**
 * The cluster's registry as this nameserver holds it: its own registrations, published
 * here, and everyone's, answered from the local replica (no network hop).
 */
export interface ReplicatedNames {
  /** Publishes a registration made on this nameserver (its origin). Throws NamingError on an invalid name, URI or tags. */
  register(name: string, uri: string, metadata: readonly string[]): void;
  /** Publishes the removal of this nameserver's own registration of `name`. */
  remove(name: string): void;
  /** Publishes new tags for this nameserver's own registration of `name`. */
  setMetadata(name: string, metadata: readonly string[]): void;
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
  #notMember = 0;
  #unaddressed = 0;
  /** After the federation left: the view still follows local changes, nothing is sent. */
  #stopped = false;

  constructor(self: string, host: ReplicationHost, timing?: Partial<ReplicaTiming>) {
    this.#replica = new RegistryReplica({ self, ...(timing && { timing }), ...(host.counters && { version: host.counters.version, clock: host.counters.clock }) });
    this.#host = host;
  }

  get stats(): ReplicationStats {
    return { ...this.#replica.stats, notMember: this.#notMember, unaddressed: this.#unaddressed };
  }

  /** A membership event: joined or alive again shows the member's names, dead or left hides them. */
  memberChanged(now: number, { change, peer }: PeerChange): void {
    if (peer.self) return;
    if (change === "dead" || change === "left") {
      // Nothing is sent to a member that is down: its contact is dropped with it.
      this.#contacts.delete(peer.id);
      if (this.#live.delete(peer.id)) this.#carry(this.#replica.peerDown(now, peer.id));
      return;
    }
    // Joined, alive, or suspect (a suspect is still a member; one that was dead may come back
    // as suspect): its names show from the moment it is live, once, not again at each refutation.
    this.#contacts.set(peer.id, contactOf(peer));
    if (this.#live.has(peer.id)) return;
    this.#live.add(peer.id);
    this.#carry(this.#replica.peerUp(now, peer.id));
  }

  /** A replica message from the inbox, already validated; ignored unless its sender is a live member. */
  receive(now: number, message: ReplicaMessage): void {
    if (!this.#live.has(message.from)) {
      this.#notMember++;
      return;
    }
    this.#carry(this.#replica.receive(now, message));
  }

  tick(now: number): void {
    this.#carry(this.#replica.tick(now));
  }

  nextDeadline(): number {
    return this.#replica.nextDeadline();
  }

  /** Stops sending (the federation left); local changes still reach the view and its events. */
  stop(): void {
    this.#stopped = true;
  }

  register(name: string, uri: string, metadata: readonly string[]): void {
    this.#local(this.#replica.register(Date.now(), name, uri, metadata));
  }

  remove(name: string): void {
    this.#local(this.#replica.remove(Date.now(), name));
  }

  setMetadata(name: string, metadata: readonly string[]): void {
    this.#local(this.#replica.setMetadata(Date.now(), name, metadata));
  }

  /** A local change: its counters are kept (a restart must not reuse them) before it spreads. */
  #local(change: ReplicaOutput): void {
    this.#host.counters?.reached(this.#replica.version, this.#replica.clock);
    this.#carry(change);
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
