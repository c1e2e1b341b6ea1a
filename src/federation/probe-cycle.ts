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
 * SWIM's failure detector: one member probed per period, in a shuffled round-robin order
 * (every member is probed within N periods); without an ack within the probe timeout,
 * others are asked to ping it; without any ack by the end of the period, it has failed.
 * Also relays pings asked of us by others.
 */
export class ProbeCycle {
  readonly #timing: MembershipTiming;
  readonly #random: () => number;
  #seq = 0;
  #probe: Probe | undefined;
  #nextProbe = 0;
  #order: string[] = [];
  #index = 0;
  #stale = true;
  /** Pings we send for others: our seq → whom to forward the ack to. */
  readonly #relays = new Map<number, { readonly requester: Contact; readonly seq: number; readonly at: number }>();

  constructor(timing: MembershipTiming, random: () => number) {
    this.#timing = timing;
    this.#random = random;
  }

  start(now: number): void {
    this.#nextProbe = now + this.#timing.probeInterval * this.#random();
  }

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
    const target = this.#nextTarget(hooks);
    if (!target) return;
    this.#probe = { target, seq: this.#nextSeq(), sentAt: now, indirect: false, acked: false };
    hooks.ping(target, this.#probe.seq);
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

  #nextTarget(hooks: ProbeHooks): MemberRecord | undefined {
    const live = hooks.live();
    if (live.length === 0) return undefined;
    if (this.#stale || this.#index >= this.#order.length) {
      this.#order = this.#shuffle(live.map((m) => m.id));
      this.#index = 0;
      this.#stale = false;
    }
    while (this.#index < this.#order.length) {
      const target = hooks.find(this.#order[this.#index++]!);
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

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
