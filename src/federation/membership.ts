import { Dissemination } from "./dissemination.js";
import { hostOf, isLive, supersedes, type Contact, type MemberRecord, type PeerChange, type PeerChangeKind, type PeerInfo } from "./member.js";
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

interface Member {
  record: MemberRecord;
  lastHeard: number | null;
  /** When we learned of the current suspicion. */
  suspectedAt: number;
  changedAt: number;
}

/**
 * The heartbeat table of one nameserver as a pure state machine (no I/O, no clock): the
 * driver feeds it the time, beacons heard and peer messages received, and carries out
 * what each step returns. SWIM-style: handshake (pong, pong, ready) before membership,
 * one probe per period with indirect probes before suspicion, suspicion refuted by a
 * higher incarnation, changes gossiped a bounded number of times, whole tables swapped
 * on every new link, and a leader per beacon domain (the lowest live id).
 */
export class Membership {
  readonly #options: MembershipOptions;
  readonly #timing: MembershipTiming;
  readonly #random: () => number;
  #self: MemberRecord;
  readonly #members = new Map<string, Member>();
  readonly #gossip = new Dissemination();
  readonly #probes: ProbeCycle;
  /** Last handshake sent to each endpoint, to space them out. */
  readonly #handshakes = new Map<string, number>();
  /**
   * Unknown ids to handshake with later if still unknown: beacons heard by a member that does
   * not lead (a few of them do it), and senders that know us (`always`).
   */
  readonly #delayedJoins = new Map<string, { due: number; endpoint: string; key?: string; always: boolean }>();
  /** Unknown ids a delayed join left to others, when: if still unknown at their next beacon, we handshake. */
  readonly #unheard = new Map<string, number>();
  #nextBeacon = 0;
  #nextGossip = 0;
  #nextStatic = 0;
  #leaders: Map<string, string> | undefined;
  /** Alive and suspect members, rebuilt after a change. */
  #live: MemberRecord[] | undefined;
  /** Members under suspicion, whose timers tick. */
  readonly #suspects = new Set<Member>();
  #nextForgetScan = 0;
  #left = false;
  #out: { sends: Outgoing[]; events: PeerChange[]; beacon: { leaving: boolean } | undefined } = { sends: [], events: [], beacon: undefined };

  constructor(options: MembershipOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#random = options.random ?? Math.random;
    this.#self = { id: options.id, endpoint: options.endpoint, domain: options.domain, incarnation: options.incarnation ?? 0, state: "alive", ...(options.key && { key: options.key }) };
    this.#probes = new ProbeCycle(this.#timing, this.#random);
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
    if (this.#left) return this.#flush();
    if (now >= this.#nextBeacon) {
      this.#out.beacon = { leaving: false };
      const quiet = this.#liveCount() > 0 && this.leaderOf(this.#self.domain) !== this.#self.id;
      const period = this.#timing.beaconInterval * (quiet ? this.#timing.quietBeaconFactor : 1);
      this.#nextBeacon = now + period * (1 + this.#timing.beaconJitter * (2 * this.#random() - 1));
    }
    this.#probes.tick(now, this.#probeHooks(now));
    const timeout = this.#suspicionTimeout();
    for (const member of [...this.#suspects]) if (now - member.suspectedAt >= timeout) this.#declare(now, member, "dead");
    if (now >= this.#nextForgetScan) {
      this.#nextForgetScan = now + this.#timing.forgetAfter / 10;
      for (const member of [...this.#members.values()]) {
        if (!isLive(member.record.state) && now - member.changedAt >= this.#timing.forgetAfter) this.#forget(member.record.id);
      }
      for (const [id, at] of this.#unheard) if (this.#isLiveMember(id) || now - at >= this.#timing.forgetAfter / 10) this.#unheard.delete(id);
    }
    for (const [id, join] of this.#delayedJoins) {
      if (join.due > now) continue;
      this.#delayedJoins.delete(id);
      if (this.#isLiveMember(id)) continue;
      const live = this.#liveCount();
      if (join.always || live === 0 || this.#random() * live < this.#timing.gossipFanout) this.#handshake(now, join, true);
      // Still unknown after its news had time to come: when we hear it again, we ask ourselves.
      else this.#unheard.set(id, now);
    }
    if (now >= this.#nextStatic) {
      this.#nextStatic = now + this.#timing.staticRetry;
      const liveEndpoints = new Set(this.#liveRecords().map((m) => m.endpoint));
      for (const peer of this.#options.staticPeers ?? []) if (!liveEndpoints.has(peer.endpoint)) this.#handshake(now, peer, true);
    }
    if (now >= this.#nextGossip) {
      this.#nextGossip = now + this.#timing.gossipInterval;
      if (this.#gossip.size > 0) {
        for (const target of this.#randomLive(this.#timing.gossipFanout)) {
          const updates = this.#takeUpdates();
          if (updates.length === 0) break;
          this.#send(target, { kind: "gossip", from: this.#contact(), updates });
        }
      }
    }
    return this.#flush();
  }

  /** The earliest time `tick` has work to do. */
  nextDeadline(): number {
    let next = Math.min(this.#nextBeacon, this.#nextStatic, this.#probes.nextDeadline());
    if (this.#gossip.size > 0) next = Math.min(next, this.#nextGossip);
    const timeout = this.#suspicionTimeout();
    for (const member of this.#suspects) next = Math.min(next, member.suspectedAt + timeout);
    for (const join of this.#delayedJoins.values()) next = Math.min(next, join.due);
    return next;
  }

  /** A beacon from another nameserver of our cluster. */
  beaconHeard(now: number, beacon: HeardBeacon): MembershipOutput {
    if (this.#left || beacon.id === this.#self.id) return this.#flush();
    const member = this.#members.get(beacon.id);
    if (beacon.leaving) {
      if (member && isLive(member.record.state) && beacon.incarnation >= member.record.incarnation) {
        this.#apply(now, { ...member.record, incarnation: beacon.incarnation, state: "left" });
      }
      return this.#flush();
    }
    if (member && isLive(member.record.state)) return this.#flush();
    const contact = { endpoint: beacon.endpoint, ...(beacon.key && { key: beacon.key }) };
    // The leader answers at once. Of two nameservers alone, the higher id asks at once (the
    // lower would lead them both): a crowd starting together gathers around its lowest ids
    // instead of linking every pair. The others are a fallback for a leader that does not
    // hear the newcomer: after 1-2 s, if its news has not reached them, about
    // `gossipFanout` of them in all, chosen at random then (all of them would swap whole
    // tables with it: a storm when a crowd starts together).
    const live = this.#liveCount();
    const atOnce = live === 0 ? member !== undefined || beacon.id < this.#self.id : this.leaderOf(this.#self.domain) === this.#self.id;
    if (atOnce) {
      this.#handshake(now, contact, live > 0 || member !== undefined);
    } else {
      this.#joinLater(now, beacon.id, contact, this.#unheard.has(beacon.id));
    }
    return this.#flush();
  }

  /** A validated message from a peer link. */
  receive(now: number, message: PeerMessage): MembershipOutput {
    if (this.#left || message.from.id === this.#self.id) return this.#flush();
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
        if (this.#heard(now, message.from)) this.#applyAll(now, message.members, message.from);
        break;
    }
    return this.#flush();
  }

  /** Graceful stop: every live member is told at once, and a port-0 beacon goes out. */
  leave(): MembershipOutput {
    if (this.#left) return this.#flush();
    this.#self = { ...this.#self, state: "left" };
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
    if (!this.#leaders) {
      this.#leaders = new Map();
      const consider = (record: MemberRecord): void => {
        const current = this.#leaders!.get(record.domain);
        if (current === undefined || record.id < current) this.#leaders!.set(record.domain, record.id);
      };
      if (isLive(this.#self.state)) consider(this.#self);
      for (const member of this.#members.values()) if (isLive(member.record.state)) consider(member.record);
    }
    return this.#leaders.get(domain);
  }

  #flush(): MembershipOutput {
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

  #handshake(now: number, to: { readonly endpoint: string; readonly key?: string }, spaced: boolean): void {
    const last = this.#handshakes.get(to.endpoint);
    if (spaced && last !== undefined && now - last < this.#timing.handshakeRetry) return;
    // Alone, one handshake at a time: the first peer's table will name the others.
    if (this.#liveCount() === 0 && [...this.#handshakes.values()].some((at) => now - at < this.#timing.handshakeRetry)) return;
    this.#handshakes.set(to.endpoint, now);
    this.#send(to, { kind: "pong", cluster: this.#options.cluster, from: this.#self, reply: false });
  }

  /** Both directions are proven: the peer is a member; a new link swaps whole tables. */
  #linked(now: number, record: MemberRecord, answerReady: boolean): void {
    if (answerReady) this.#send(record, { kind: "ready", cluster: this.#options.cluster, from: this.#self });
    this.#handshakes.delete(record.endpoint);
    const member = this.#members.get(record.id);
    const wasLive = member !== undefined && isLive(member.record.state);
    this.#apply(now, { ...record, state: "alive" });
    this.#heard(now, record);
    if (!wasLive) this.#send(record, { kind: "sync", from: this.#contact(), members: [this.#self, ...[...this.#members.values()].map((m) => m.record)] });
  }

  /** Notes a direct message; false when the sender is no member we know (its message is not trusted: we handshake instead). */
  #heard(now: number, from: Contact): boolean {
    const member = this.#members.get(from.id);
    if (!member) {
      // It knows us, we do not know it: gossip missed it, or has yet to bring it. A handshake
      // proves it and swaps tables.
      this.#joinLater(now, from.id, from, true);
      return false;
    }
    member.lastHeard = now;
    // A member we hold dead or gone talks to us: tell it, so it refutes with a higher incarnation.
    if (!isLive(member.record.state) && this.#handshakeDue(now, member.record.endpoint)) {
      this.#send(member.record, { kind: "gossip", from: this.#contact(), updates: [member.record] });
    }
    return true;
  }

  #joinLater(now: number, id: string, contact: { readonly endpoint: string; readonly key?: string }, always: boolean): void {
    const join = this.#delayedJoins.get(id);
    if (join) join.always ||= always;
    else this.#delayedJoins.set(id, { due: now + this.#timing.beaconInterval * (1 + this.#random()), endpoint: contact.endpoint, ...(contact.key && { key: contact.key }), always });
  }

  #handshakeDue(now: number, endpoint: string): boolean {
    const last = this.#handshakes.get(endpoint);
    if (last !== undefined && now - last < this.#timing.handshakeRetry) return false;
    this.#handshakes.set(endpoint, now);
    return true;
  }

  #applyAll(now: number, records: readonly MemberRecord[], from: Contact): void {
    const incarnation = this.#self.incarnation;
    for (const record of records) this.#apply(now, record);
    // We refuted a suspicion or a death this peer holds: it hears it first, from us.
    if (this.#self.incarnation !== incarnation) this.#send(from, { kind: "gossip", from: this.#contact(), updates: [this.#self] });
  }

  /** Applies one record if it is news; returns whether it was. */
  #apply(now: number, record: MemberRecord): boolean {
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
      const added: Member = { record, lastHeard: null, suspectedAt: now, changedAt: now };
      this.#members.set(record.id, added);
      if (record.state === "suspect") this.#suspects.add(added);
      this.#changed(record, "joined");
      return true;
    }
    if (!supersedes(record, member.record)) return false;
    const before = member.record.state;
    member.record = record;
    this.#live = undefined;
    if (record.state === "suspect" && before !== "suspect") member.suspectedAt = now;
    if (record.state === "suspect") this.#suspects.add(member);
    else this.#suspects.delete(member);
    if (record.state !== before) {
      member.changedAt = now;
      this.#changed(record, record.state === "alive" ? "alive" : record.state);
    } else {
      this.#gossip.add(record);
    }
    return true;
  }

  #changed(record: MemberRecord, change: PeerChangeKind): void {
    this.#leaders = undefined;
    this.#live = undefined;
    this.#probes.membersChanged();
    this.#gossip.add(record);
    const member = this.#members.get(record.id)!;
    this.#out.events.push({ change, peer: this.#info(member) });
  }

  /** Our own verdict on a member: suspect (told to it too, so it can refute) or dead. */
  #declare(now: number, member: Member, state: "suspect" | "dead"): void {
    const record: MemberRecord = { ...member.record, state };
    if (!this.#apply(now, record)) return;
    if (state === "suspect") this.#send(record, { kind: "gossip", from: this.#contact(), updates: [record] });
  }

  #forget(id: string): void {
    this.#suspects.delete(this.#members.get(id)!);
    this.#members.delete(id);
    this.#leaders = undefined;
    this.#live = undefined;
    this.#probes.membersChanged();
  }

  #probeHooks(now: number) {
    return {
      live: () => this.#liveRecords(),
      find: (id: string) => {
        const member = this.#members.get(id);
        return member && isLive(member.record.state) ? member.record : undefined;
      },
      ping: (target: MemberRecord, seq: number) => this.#send(target, { kind: "ping", from: this.#contact(), seq, updates: this.#takeUpdates() }),
      pingReq: (helper: MemberRecord, target: MemberRecord, seq: number) =>
        this.#send(helper, { kind: "ping-req", from: this.#contact(), seq, target: { id: target.id, endpoint: target.endpoint, ...(target.key && { key: target.key }) }, updates: this.#takeUpdates() }),
      failed: (id: string) => {
        const member = this.#members.get(id);
        if (member && member.record.state === "alive") this.#declare(now, member, "suspect");
      },
    };
  }

  #takeUpdates(): MemberRecord[] {
    return this.#gossip.take(32, retransmitLimit(this.#timing, this.#members.size + 1));
  }

  #suspicionTimeout(): number {
    return suspicionTimeout(this.#timing, this.#members.size + 1);
  }

  #isLiveMember(id: string): boolean {
    const member = this.#members.get(id);
    return member !== undefined && isLive(member.record.state);
  }

  #liveRecords(): MemberRecord[] {
    this.#live ??= [...this.#members.values()].filter((m) => isLive(m.record.state)).map((m) => m.record);
    return this.#live;
  }

  #liveCount(): number {
    return this.#liveRecords().length;
  }

  /** Up to `count` distinct live members, at random. */
  #randomLive(count: number): MemberRecord[] {
    const live = this.#liveRecords();
    if (live.length <= count) return [...live];
    const picked = new Set<MemberRecord>();
    while (picked.size < count) picked.add(live[Math.floor(this.#random() * live.length)]!);
    return [...picked];
  }

  #info(member: Member): PeerInfo {
    return this.#infoOf(member.record, member.lastHeard, false);
  }

  #infoOf(record: MemberRecord, lastHeard: number | null, self: boolean): PeerInfo {
    return { ...record, host: hostOf(record.endpoint), lastHeard, leader: isLive(record.state) && this.leaderOf(record.domain) === record.id, self };
  }
}
