import type { Contact, MemberRecord } from "./member.js";
import type { MembershipTiming } from "./membership-timing.js";

/** What a probe cycle asks of the membership it serves. */
export interface ProbeHooks {
  /** Members that may be probed or asked to probe: alive and suspect ones. */
  live(): readonly MemberRecord[];
  /** The live member with this id, if any. */
  find(id: string): MemberRecord | undefined;
  ping(target: MemberRecord, seq: number): void;
  pingReq(helper: MemberRecord, target: MemberRecord, seq: number): void;
  /** Neither the target nor any helper answered within the period. */
  failed(id: string): void;
}

interface Probe {
  readonly target: MemberRecord;
  readonly seq: number;
  readonly sentAt: number;
  indirect: boolean;
  acked: boolean;
}

/**
 * SWIM's failure detector: one member probed per period; without an ack within the probe
 * timeout, others are asked to ping it; without any ack by the end of the period, it has
 * failed. Also relays pings asked of us by others.
 *
 * Whom to probe: all members sorted by id form a ring, and in period r (of the shared
 * clock: floor(now / probeInterval)) each probes the member 1 + (r mod (n - 1)) places
 * after itself. With the same table everywhere that is a permutation: every member is
 * probed by exactly one other in every period, so a crash is noticed within two periods,
 * where SWIM's independent random orders leave a tail (no one probes it for 2 s about
 * 2 % of the time at a 0.5 s period); and each of us still probes every member within
 * n - 1 periods. Tables that differ only make some members probed twice, others skipped,
 * for that period.
 */
export class ProbeCycle {
  readonly #timing: MembershipTiming;
  readonly #random: () => number;
  #seq = 0;
  #probe: Probe | undefined;
  #nextProbe = 0;
  readonly #self: string;
  /** Our id and the live members', sorted; rebuilt when the live set changed. */
  #ring: string[] = [];
  #position = 0;
  #stale = true;
  /** Pings we send for others: our seq → whom to forward the ack to. */
  readonly #relays = new Map<number, { readonly requester: Contact; readonly seq: number; readonly at: number }>();

  constructor(timing: MembershipTiming, random: () => number, self: string) {
    this.#timing = timing;
    this.#random = random;
    this.#self = self;
  }

  start(now: number): void {
    this.#nextProbe = now + this.#timing.probeInterval * this.#random();
  }

  /** A member joined or stopped being live. */
  membersChanged(): void {
    this.#stale = true;
  }

  nextDeadline(): number {
    const probe = this.#probe;
    if (probe && !probe.acked && !probe.indirect) return Math.min(this.#nextProbe, probe.sentAt + this.#timing.probeTimeout);
    return this.#nextProbe;
  }

  tick(now: number, hooks: ProbeHooks): void {
    const probe = this.#probe;
    if (probe && !probe.acked && !probe.indirect && now >= probe.sentAt + this.#timing.probeTimeout) {
      probe.indirect = true;
      for (const helper of this.#pick(hooks.live(), this.#timing.indirectProbes, probe.target.id)) hooks.pingReq(helper, probe.target, probe.seq);
    }
    if (now < this.#nextProbe) return;
    this.#nextProbe = now + this.#timing.probeInterval;
    if (probe && !probe.acked) hooks.failed(probe.target.id);
    this.#probe = undefined;
    for (const [seq, relay] of this.#relays) if (now - relay.at > this.#timing.probeInterval) this.#relays.delete(seq);
    const target = this.#nextTarget(hooks, now);
    if (!target) return;
    this.#probe = { target, seq: this.#nextSeq(), sentAt: now, indirect: false, acked: false };
    hooks.ping(target, this.#probe.seq);
  }

  /**
   * The process was paused until `now`: the probe in flight starts over as if just sent
   * (an ack queued meanwhile still counts), the next one a period from now.
   */
  resumed(now: number): void {
    if (this.#probe && !this.#probe.acked) this.#probe = { ...this.#probe, sentAt: now, indirect: false };
    this.#nextProbe = Math.max(this.#nextProbe, now + this.#timing.probeInterval);
  }

  /** An ack arrived: it ends our probe, or is forwarded to whoever asked us to ping. */
  acked(seq: number, forward: (requester: Contact, seq: number) => void): void {
    if (this.#probe?.seq === seq) this.#probe.acked = true;
    const relay = this.#relays.get(seq);
    if (relay) {
      this.#relays.delete(seq);
      forward(relay.requester, relay.seq);
    }
  }

  /** A peer asked us to ping for it; returns the seq of our ping. */
  relay(now: number, requester: Contact, seq: number): number {
    const ours = this.#nextSeq();
    this.#relays.set(ours, { requester, seq, at: now });
    return ours;
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #nextTarget(hooks: ProbeHooks, now: number): MemberRecord | undefined {
    if (this.#stale) {
      this.#ring = [this.#self, ...hooks.live().map((m) => m.id)].sort();
      this.#position = this.#ring.indexOf(this.#self);
      this.#stale = false;
    }
    const n = this.#ring.length;
    const round = Math.floor(now / this.#timing.probeInterval);
    // A member of the ring that is no longer live (the ring is rebuilt lazily): the next one.
    for (let k = 0; k < n - 1; k++) {
      const target = hooks.find(this.#ring[(this.#position + 1 + ((round + k) % (n - 1))) % n]!);
      if (target) return target;
    }
    return undefined;
  }

  /** Up to `count` distinct random members other than `except`. */
  #pick(live: readonly MemberRecord[], count: number, except: string): MemberRecord[] {
    const picked = new Map<string, MemberRecord>();
    for (let tries = 0; picked.size < count && tries < count * 4; tries++) {
      const member = live[Math.floor(this.#random() * live.length)];
      if (member && member.id !== except) picked.set(member.id, member);
    }
    return [...picked.values()];
  }
}
