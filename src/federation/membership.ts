import { Dissemination } from "./dissemination.js";
import { Joins, type Endpoint } from "./joins.js";
import { hostOf, isLive, supersedes, type Contact, type MemberRecord, type PeerChange, type PeerChangeKind, type PeerInfo } from "./member.js";
import { MemberTable, type Member } from "./member-table.js";
import { DEFAULT_TIMING, retransmitLimit, suspicionTimeout, type MembershipTiming } from "./membership-timing.js";
import type { PeerMessage } from "./peer-message.js";
import { ProbeCycle } from "./probe-cycle.js";

/** Who this nameserver is, and how the protocol runs. */
export interface MembershipOptions {
  readonly cluster: string;
  readonly id: string;
  /** Our nameserver's `host:port`, as peers reach it. */
  readonly endpoint: string;
  /** The beacon domain we beacon in (a broadcast address, say). */
  readonly domain: string;
  readonly key?: string;
  readonly incarnation?: number;
  /** Endpoints no beacon reaches, to handshake with until they are members. */
  readonly staticPeers?: readonly Contact[] | readonly { readonly endpoint: string; readonly key?: string }[];
  readonly timing?: Partial<MembershipTiming>;
  /** Random numbers in [0, 1): Math.random, or a seeded generator in the simulator. */
  readonly random?: () => number;
}

/** A beacon as the driver read it: the sender's id, `host:port` (from the datagram's source), incarnation. */
export interface HeardBeacon {
  readonly id: string;
  readonly endpoint: string;
  readonly incarnation: number;
  readonly key?: string;
  /** A beacon with port 0: the sender is leaving. */
  readonly leaving: boolean;
}

/** A message for the driver to send to a peer's endpoint. */
export interface Outgoing {
  readonly to: { readonly endpoint: string; readonly key?: string };
  readonly message: PeerMessage;
}

/** What one step of the state machine asks the driver to do. */
export interface MembershipOutput {
  readonly sends: Outgoing[];
  readonly events: PeerChange[];
  /** Send a beacon now (`leaving`: the port-0 beacon of a graceful stop). */
  readonly beacon: { readonly leaving: boolean } | undefined;
}

/** Most changes one message carries: a crowd starting together queues a thousand, which must not wait for minutes. */
const UPDATES_PER_MESSAGE = 128;

/**
 * The heartbeat table of one nameserver as a pure state machine (no I/O, no clock): the
 * driver feeds it the time, beacons heard and peer messages received, and carries out
 * what each step returns. SWIM-style: handshake (pong, pong, ready) before membership,
 * one probe per period (in a ring order every member shares: ProbeCycle) with indirect
 * probes before suspicion, suspicion refuted by a higher incarnation, changes gossiped a
 * bounded number of times, whole tables swapped on every new link, and a leader per beacon
 * domain (the lowest live id). Beyond SWIM, so that no live member is declared dead: every
 * member that suspects another tells it so, a suspect we probe is told too (Lifeguard's
 * buddy system), anyone holding a stale suspicion or death is answered with the newer
 * record, and a nameserver that was paused (a tick long past its deadline) neither judges
 * others by the silence it caused nor waits to be accused before refuting.
 * Measured on 100 and 1,000 simulated nameservers: src/federation/simulator.ts.
 */
export class Membership {
  readonly #options: MembershipOptions;
  readonly #timing: MembershipTiming;
  readonly #random: () => number;
  #self: MemberRecord;
  readonly #members = new MemberTable(() => this.#self);
  readonly #gossip = new Dissemination();
  readonly #probes: ProbeCycle;
  readonly #joins: Joins;
  #nextBeacon = 0;
  #nextGossip = 0;
  #nextStatic = 0;
  /** After members we held dead came back: when to push the ones still dead to a member, and how often more. */
  #nextDeadPush = Infinity;
  #deadPushes = 0;
  /** Members under suspicion, whose timers tick; the earliest suspicion (or earlier: a bound). */
  readonly #suspects = new Set<Member>();
  #earliestSuspicion = Infinity;
  #nextForgetScan = 0;
  #left = false;
  /** When the last step ran: with nextDeadline(), when we expected to be called next (see #paused). */
  #lastStep = Infinity;
  #out: { sends: Outgoing[]; events: PeerChange[]; beacon: { leaving: boolean } | undefined } = { sends: [], events: [], beacon: undefined };

  constructor(options: MembershipOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#random = options.random ?? Math.random;
    this.#self = { id: options.id, endpoint: options.endpoint, domain: options.domain, incarnation: options.incarnation ?? 0, state: "alive", ...(options.key && { key: options.key }) };
    this.#probes = new ProbeCycle(this.#timing, this.#random, options.id);
    this.#joins = new Joins(this.#timing, this.#random);
  }

  /** Our own record, as peers see it. */
  get self(): MemberRecord {
    return this.#self;
  }

  get cluster(): string {
    return this.#options.cluster;
  }

  /** Starts beaconing and handshakes with static peers. */
  start(now: number): MembershipOutput {
    this.#nextBeacon = now;
    this.#nextStatic = now;
    this.#nextGossip = now + this.#timing.gossipInterval;
    this.#probes.start(now);
    return this.tick(now);
  }

  /** Runs every timer that is due. */
  tick(now: number): MembershipOutput {
    if (this.#left) return this.#flush(now);
    // State changes only in steps: our deadline now is the one the last step left.
    const late = now - Math.max(this.#lastStep, this.nextDeadline());
    if (late > this.#timing.probeTimeout) this.#paused(now, late);
    if (now >= this.#nextBeacon) {
      this.#out.beacon = { leaving: false };
      const quiet = this.#members.liveCount > 0 && this.leaderOf(this.#self.domain) !== this.#self.id;
      const period = quiet ? Math.max(this.#timing.beaconInterval * this.#timing.quietBeaconFactor, (1000 * this.#members.liveCount) / this.#timing.quietBeaconsPerSecond) : this.#timing.beaconInterval;
      this.#nextBeacon = now + period * (1 + this.#timing.beaconJitter * (2 * this.#random() - 1));
    }
    this.#probes.tick(now, this.#probeHooks(now));
    const timeout = this.#suspicionTimeout();
    this.#earliestSuspicion = Infinity;
    for (const member of [...this.#suspects]) {
      // The same sum as nextDeadline's: `now - at >= timeout` can differ from it by rounding.
      if (member.suspectedAt + timeout <= now) this.#declare(now, member, "dead");
      else this.#earliestSuspicion = Math.min(this.#earliestSuspicion, member.suspectedAt);
    }
    if (now >= this.#nextForgetScan) {
      this.#nextForgetScan = now + this.#timing.forgetAfter / 10;
      for (const member of [...this.#members.values()]) {
        if (!isLive(member.record.state) && now - member.changedAt >= this.#timing.forgetAfter) this.#forget(member.record.id);
      }
      this.#joins.prune(now, (id) => this.#members.isLive(id));
    }
    for (const join of this.#joins.due(now, (id) => this.#members.isLive(id), this.#members.liveCount)) this.#handshake(now, join, true);
    if (now >= this.#nextDeadPush) this.#pushDead(now);
    if (now >= this.#nextStatic && this.#options.staticPeers?.length) {
      this.#nextStatic = now + this.#timing.staticRetry;
      const liveEndpoints = new Set(this.#members.liveRecords().map((m) => m.endpoint));
      for (const peer of this.#options.staticPeers ?? []) if (!liveEndpoints.has(peer.endpoint)) this.#handshake(now, peer, true);
    }
    if (now >= this.#nextGossip) {
      this.#nextGossip = now + this.#timing.gossipInterval;
      if (this.#gossip.size > 0) {
        for (const target of this.#members.randomLive(this.#timing.gossipFanout, this.#random)) {
          const updates = this.#takeUpdates();
          if (updates.length === 0) break;
          this.#send(target, { kind: "gossip", from: this.#contact(), updates });
        }
      }
    }
    return this.#flush(now);
  }

  /** The earliest time `tick` has work to do. */
  nextDeadline(): number {
    if (this.#left) return Infinity;
    let next = Math.min(this.#nextBeacon, this.#options.staticPeers?.length ? this.#nextStatic : Infinity, this.#probes.nextDeadline());
    if (this.#gossip.size > 0) next = Math.min(next, this.#nextGossip);
    if (this.#suspects.size > 0) next = Math.min(next, this.#earliestSuspicion + this.#suspicionTimeout());
    return Math.min(next, this.#joins.next, this.#nextDeadPush);
  }

  /** A beacon from another nameserver of our cluster. */
  beaconHeard(now: number, beacon: HeardBeacon): MembershipOutput {
    if (this.#left || beacon.id === this.#self.id) return this.#flush(now);
    const member = this.#members.get(beacon.id);
    if (beacon.leaving) {
      if (member && isLive(member.record.state) && beacon.incarnation >= member.record.incarnation) {
        this.#apply(now, { ...member.record, incarnation: beacon.incarnation, state: "left" });
      }
      return this.#flush(now);
    }
    if (member && isLive(member.record.state)) return this.#flush(now);
    const contact = { endpoint: beacon.endpoint, ...(beacon.key && { key: beacon.key }) };
    // The leader answers at once; alone, only a lower id: see Joins.
    const live = this.#members.liveCount;
    const atOnce = live === 0 ? member !== undefined || beacon.id < this.#self.id : this.leaderOf(this.#self.domain) === this.#self.id;
    if (atOnce) {
      this.#handshake(now, contact, live > 0 || member !== undefined);
    } else {
      this.#joins.beaconLater(now, beacon.id, contact);
    }
    return this.#flush(now);
  }

  /** A validated message from a peer link. */
  receive(now: number, message: PeerMessage): MembershipOutput {
    if (this.#left || message.from.id === this.#self.id) return this.#flush(now);
    switch (message.kind) {
      case "pong":
      case "ready":
        if (message.cluster !== this.#options.cluster) break;
        if (message.kind === "pong" && !message.reply) this.#send(message.from, { kind: "pong", cluster: this.#options.cluster, from: this.#self, reply: true });
        else this.#linked(now, message.from, message.kind === "pong");
        break;
      case "ping":
        this.#send(message.from, { kind: "ack", from: this.#contact(), seq: message.seq, updates: this.#takeUpdates() });
        if (this.#heard(now, message.from)) this.#applyAll(now, message.updates, message.from);
        break;
      case "ack":
        if (!this.#heard(now, message.from)) break;
        this.#applyAll(now, message.updates, message.from);
        this.#probes.acked(message.seq, (requester, seq) => this.#send(requester, { kind: "ack", from: this.#contact(), seq, updates: this.#takeUpdates() }));
        break;
      case "ping-req":
        if (!this.#heard(now, message.from)) break;
        this.#applyAll(now, message.updates, message.from);
        this.#send(message.target, { kind: "ping", from: this.#contact(), seq: this.#probes.relay(now, message.from, message.seq), updates: this.#takeUpdates() });
        break;
      case "gossip":
        if (this.#heard(now, message.from)) this.#applyAll(now, message.updates, message.from);
        break;
      case "sync":
        if (this.#heard(now, message.from)) this.#sync(now, message.members, message.from);
        break;
    }
    return this.#flush(now);
  }

  /** Graceful stop: every live member is told at once, and a port-0 beacon goes out. */
  leave(): MembershipOutput {
    if (this.#left) return this.#flush();
    this.#self = { ...this.#self, state: "left" };
    this.#members.selfChanged();
    for (const member of this.#members.values()) {
      if (isLive(member.record.state)) this.#send(member.record, { kind: "gossip", from: this.#contact(), updates: [this.#self] });
    }
    this.#left = true;
    this.#out.beacon = { leaving: true };
    return this.#flush();
  }

  /** The heartbeat table: ourselves first, then every member we know, by id. */
  peers(): PeerInfo[] {
    const others = [...this.#members.values()].sort((a, b) => (a.record.id < b.record.id ? -1 : 1)).map((m) => this.#info(m));
    return [this.#infoOf(this.#self, null, true), ...others];
  }

  /** The lowest live id of a beacon domain (ourselves included). */
  leaderOf(domain: string): string | undefined {
    return this.#members.leaderOf(domain);
  }

  /**
   * We were called long after our deadline: the process was paused (a stall, a long GC,
   * SIGSTOP). Whatever queued up meanwhile (acks, refutations) has not been read yet, so no
   * verdict is drawn from the silence until it is: the probe in flight starts over, and
   * suspicion timers are pushed back by the pause. Others may have suspected us: if the
   * pause was longer than a probe period, we refute at once, to every member.
   */
  #paused(now: number, late: number): void {
    this.#probes.resumed(now);
    for (const member of this.#suspects) member.suspectedAt += late + this.#timing.probeTimeout;
    this.#earliestSuspicion += late + this.#timing.probeTimeout;
    if (late <= this.#timing.probeInterval) return;
    this.#self = { ...this.#self, incarnation: this.#self.incarnation + 1 };
    this.#gossip.add(this.#self);
    for (const member of this.#members.liveRecords()) this.#send(member, { kind: "gossip", from: this.#contact(), updates: [this.#self] });
  }

  #flush(now?: number): MembershipOutput {
    if (now !== undefined) this.#lastStep = now;
    const out = this.#out;
    this.#out = { sends: [], events: [], beacon: undefined };
    return out;
  }

  #contact(): Contact {
    return { id: this.#self.id, endpoint: this.#self.endpoint, ...(this.#self.key && { key: this.#self.key }) };
  }

  #send(to: { readonly endpoint: string; readonly key?: string }, message: PeerMessage): void {
    this.#out.sends.push({ to: { endpoint: to.endpoint, ...(to.key && { key: to.key }) }, message });
  }

  #handshake(now: number, to: Endpoint, spaced: boolean): void {
    if (!this.#joins.handshake(now, to, spaced, this.#members.liveCount === 0)) return;
    this.#send(to, { kind: "pong", cluster: this.#options.cluster, from: this.#self, reply: false });
  }

  /**
   * Both directions are proven: the peer is a member. A new link swaps whole tables; and
   * whoever is asked for a link (`ready` received) sends its table even to a peer it knew:
   * the asker may lag behind (see Joins).
   */
  #linked(now: number, record: MemberRecord, answerReady: boolean): void {
    if (answerReady) this.#send(record, { kind: "ready", cluster: this.#options.cluster, from: this.#self });
    this.#joins.linked(record.endpoint);
    const member = this.#members.get(record.id);
    const wasLive = member !== undefined && isLive(member.record.state);
    this.#apply(now, { ...record, state: "alive" });
    this.#heard(now, record);
    if (!wasLive || !answerReady) this.#send(record, { kind: "sync", from: this.#contact(), members: [this.#self, ...[...this.#members.values()].map((m) => m.record)] });
  }

  /** Notes a direct message; false when the sender is no member we know (its message is not trusted: we handshake instead). */
  #heard(now: number, from: Contact): boolean {
    const member = this.#members.get(from.id);
    if (!member) {
      // It knows us, we do not know it: gossip missed it, or has yet to bring it (a crowd
      // starting together keeps gossip busy for seconds). If that lasts, we handshake.
      this.#joins.stranger(now, from);
      return false;
    }
    member.lastHeard = now;
    // A member we hold dead or gone talks to us: tell it, so it refutes with a higher incarnation.
    if (!isLive(member.record.state) && this.#joins.spaced(now, member.record.endpoint)) {
      this.#send(member.record, { kind: "gossip", from: this.#contact(), updates: [member.record] });
    }
    return true;
  }

  /**
   * Applies a peer's records. Where it holds a member (or us) suspect, dead or gone at an
   * older incarnation than we know, its timer may be running or its verdict wrong: it hears
   * the newer record at once, from us, not after gossip rounds (anti-entropy by correction).
   */
  #applyAll(now: number, records: readonly MemberRecord[], from: Contact, spread = true): void {
    const newer: MemberRecord[] = [];
    for (const record of records) {
      if (record.state !== "alive") {
        const known = record.id === this.#self.id ? this.#self : this.#members.get(record.id)?.record;
        if (known && (known.incarnation > record.incarnation || (known === this.#self && !this.#left))) newer.push(known);
      }
      this.#apply(now, record, spread);
    }
    // A refutation of ours is sent as the incarnation we have now.
    const corrections = newer.map((record) => (record.id === this.#self.id ? this.#self : record)).slice(0, UPDATES_PER_MESSAGE);
    if (corrections.length > 0) this.#send(from, { kind: "gossip", from: this.#contact(), updates: corrections });
  }

  /**
   * A peer's whole table. A death in it is taken as a suspicion of a member we hold live, so
   * that the member can refute (memberlist does the same): after a partition each side holds
   * the other dead. A nameserver that knew no one but this peer learns the table without
   * gossiping it: it is the peer's news, not ours (a newcomer would resend a thousand records).
   */
  #sync(now: number, records: readonly MemberRecord[], from: Contact): void {
    const newcomer = this.#members.liveCount <= 1;
    const taken = records.map((record) => (record.state === "dead" && this.#members.isLive(record.id) ? { ...record, state: "suspect" as const } : record));
    this.#applyAll(now, taken, from, !newcomer);
  }

  /** Applies one record if it is news; returns whether it was. */
  #apply(now: number, record: MemberRecord, spread = true): boolean {
    if (record.id === this.#self.id) {
      if (record.state !== "alive" && record.incarnation >= this.#self.incarnation && !this.#left) {
        this.#self = { ...this.#self, incarnation: record.incarnation + 1 };
        this.#gossip.add(this.#self);
      }
      return false;
    }
    const member = this.#members.get(record.id);
    if (!member) {
      if (!isLive(record.state)) return false;
      const added = this.#members.add(record, now);
      this.#probes.membersChanged();
      if (record.state === "suspect") this.#suspect(added, true);
      this.#changed(record, "joined", spread);
      return true;
    }
    if (!supersedes(record, member.record)) return false;
    const before = member.record.state;
    if (this.#members.replace(member, record)) this.#probes.membersChanged();
    if (before === "dead" && isLive(record.state)) this.#revived(now);
    if (record.state === "suspect" && before !== "suspect") {
      member.suspectedAt = now;
      this.#suspect(member, true);
    } else if (record.state === "suspect") this.#suspect(member, false);
    else this.#suspects.delete(member);
    if (record.state !== before) {
      member.changedAt = now;
      this.#changed(record, record.state === "alive" ? "alive" : record.state, spread);
    } else if (spread) {
      this.#gossip.add(record);
    }
    return true;
  }

  /**
   * A member we held dead is back (a partition healed, or our death verdict was wrong). If
   * its refutation reached us, others' may have missed us: soon, and once more later, we
   * push the members we still hold dead to a member at random, who corrects what it knows
   * newer (#applyAll). Without that, a refutation gossip missed is only repaired when that
   * member happens to probe us: up to N probe periods.
   */
  #revived(now: number): void {
    this.#deadPushes = 2;
    if (this.#nextDeadPush === Infinity) this.#nextDeadPush = now + this.#timing.handshakeRetry;
  }

  #pushDead(now: number): void {
    this.#deadPushes--;
    this.#nextDeadPush = this.#deadPushes > 0 ? now + 2 * this.#timing.handshakeRetry : Infinity;
    const dead = [...this.#members.values()].filter((m) => m.record.state === "dead").map((m) => m.record);
    const [target] = this.#members.randomLive(1, this.#random);
    if (dead.length > 0 && target) this.#send(target, { kind: "sync", from: this.#contact(), members: dead });
  }

  /**
   * `member` is under suspicion. Each of us who starts a timer on it also tells it directly
   * (`notice`): a live member answers each notice with its refutation (see #applyAll), so
   * every timer is stopped by a message of its own, not only by gossip, which under loss
   * misses a node now and then (e^-11 at 100 nodes: a false death per few runs of the
   * 10-minute test). A stalled member finds the notices queued when it resumes.
   */
  #suspect(member: Member, notice: boolean): void {
    this.#suspects.add(member);
    this.#earliestSuspicion = Math.min(this.#earliestSuspicion, member.suspectedAt);
    if (notice) this.#send(member.record, { kind: "gossip", from: this.#contact(), updates: [member.record] });
  }

  #changed(record: MemberRecord, change: PeerChangeKind, spread: boolean): void {
    if (spread) this.#gossip.add(record);
    const member = this.#members.get(record.id)!;
    this.#out.events.push({ change, peer: this.#info(member) });
  }

  /** Our own verdict on a member: suspect (told to it too, so it can refute: see #suspect) or dead. */
  #declare(now: number, member: Member, state: "suspect" | "dead"): void {
    this.#apply(now, { ...member.record, state });
  }

  #forget(id: string): void {
    this.#suspects.delete(this.#members.get(id)!);
    this.#members.delete(id);
  }

  #probeHooks(now: number) {
    return {
      live: () => this.#members.liveRecords(),
      find: (id: string) => {
        const member = this.#members.get(id);
        return member && isLive(member.record.state) ? member.record : undefined;
      },
      // Lifeguard's buddy system: a suspect we probe hears of its suspicion, even once gossip
      // about it has stopped (its notice lost, say), and refutes.
      ping: (target: MemberRecord, seq: number) =>
        this.#send(target, { kind: "ping", from: this.#contact(), seq, updates: target.state === "suspect" ? [target, ...this.#takeUpdates().filter((r) => r.id !== target.id)] : this.#takeUpdates() }),
      pingReq: (helper: MemberRecord, target: MemberRecord, seq: number) =>
        this.#send(helper, { kind: "ping-req", from: this.#contact(), seq, target: { id: target.id, endpoint: target.endpoint, ...(target.key && { key: target.key }) }, updates: this.#takeUpdates() }),
      failed: (id: string) => {
        const member = this.#members.get(id);
        if (member && member.record.state === "alive") this.#declare(now, member, "suspect");
      },
    };
  }

  #takeUpdates(): MemberRecord[] {
    return this.#gossip.take(UPDATES_PER_MESSAGE, retransmitLimit(this.#timing, this.#members.size + 1));
  }

  #suspicionTimeout(): number {
    return suspicionTimeout(this.#timing, this.#members.size + 1);
  }

  #info(member: Member): PeerInfo {
    return this.#infoOf(member.record, member.lastHeard, false);
  }

  #infoOf(record: MemberRecord, lastHeard: number | null, self: boolean): PeerInfo {
    return { ...record, host: hostOf(record.endpoint), lastHeard, leader: isLive(record.state) && this.leaderOf(record.domain) === record.id, self };
  }
}
