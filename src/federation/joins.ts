import type { Contact } from "./member.js";
import type { MembershipTiming } from "./membership-timing.js";

/** Where a handshake goes: an endpoint, and its CURVE key when encrypted. */
export interface Endpoint {
  readonly endpoint: string;
  readonly key?: string;
}

/** Handshakes awaiting an answer at once: beacons are unauthenticated, and each handshake opens a connection. */
export const MAX_HANDSHAKES_IN_FLIGHT = 16;
/** Handshakes put off, and peers passed over, at most: forged beacons of made-up ids must not grow them without end. */
export const MAX_DELAYED = 4096;

interface DelayedJoin extends Endpoint {
  readonly id: string;
  readonly due: number;
  /** Made whatever happens (else only by a few members at random). */
  always: boolean;
}

/**
 * Handshakes put off, one per peer id, taken in the order they fall due. A crowd starting
 * together leaves each nameserver with hundreds of them: kept sorted by due time, so
 * neither the next deadline nor the ones due cost a scan of all of them.
 */
class DelayedJoins {
  readonly #byId = new Map<string, DelayedJoin>();
  readonly #queue: DelayedJoin[] = [];

  get next(): number {
    return this.#queue.length > 0 ? this.#queue[0]!.due : Infinity;
  }

  /** One already put off keeps its time, and becomes `always` if this one is. */
  add(join: DelayedJoin): void {
    const existing = this.#byId.get(join.id);
    if (existing) {
      existing.always ||= join.always;
      return;
    }
    if (this.#byId.size >= MAX_DELAYED) return;
    this.#byId.set(join.id, join);
    let low = 0;
    let high = this.#queue.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.#queue[mid]!.due <= join.due) low = mid + 1;
      else high = mid;
    }
    this.#queue.splice(low, 0, join);
  }

  takeDue(now: number): DelayedJoin[] {
    let count = 0;
    while (count < this.#queue.length && this.#queue[count]!.due <= now) count++;
    const due = this.#queue.splice(0, count);
    for (const join of due) this.#byId.delete(join.id);
    return due;
  }
}

/**
 * Whom a nameserver handshakes with, and when: the policy that keeps a crowd of nameservers
 * from linking every pair (each link swaps whole tables).
 *
 * - A beacon of an unknown peer: the leader answers at once; so does a nameserver alone, if
 *   the peer's id is lower (it would lead them both), so a crowd gathers around its lowest
 *   ids. The others are a fallback for a leader that does not hear the newcomer: after 1-2
 *   beacon periods, if its news has not reached them, about `gossipFanout` of them in all,
 *   chosen at random then.
 * - A peer still unknown to us well after that (a newcomer's news reaches everyone within
 *   a second or two), or a sender that knows us while we do not know it: we lag behind.
 *   One handshake catches up on everything (the peer's whole table), so these "catch-up"
 *   handshakes are at most one per half quiet beacon period (5 s): a crowd started together
 *   lags for seconds, and would otherwise link every pair.
 * - At most one handshake per endpoint per `handshakeRetry`; alone, one at all.
 */
export class Joins {
  readonly #timing: MembershipTiming;
  readonly #random: () => number;
  /** Last handshake (or death notice) sent to each endpoint. */
  readonly #sent = new Map<string, number>();
  readonly #beacons = new DelayedJoins();
  readonly #strangers = new DelayedJoins();
  /** Unknown ids a delayed join left to others, and when. */
  readonly #passedOver = new Map<string, number>();
  /** When we last made a catch-up handshake. */
  #caughtUp = -Infinity;

  constructor(timing: MembershipTiming, random: () => number) {
    this.#timing = timing;
    this.#random = random;
  }

  /** The earliest delayed handshake. */
  get next(): number {
    return Math.min(this.#beacons.next, this.#strangers.next);
  }

  /**
   * Whether to send a handshake to `to` now, noting it if so: not if one went there within
   * `handshakeRetry` (when `spaced`), nor, while `alone`, if one went anywhere.
   */
  handshake(now: number, to: Endpoint, spaced: boolean, alone: boolean): boolean {
    const last = this.#sent.get(to.endpoint);
    if (spaced && last !== undefined && now - last < this.#timing.handshakeRetry) return false;
    // Alone, one handshake at a time: the first peer's table will name the others.
    if (alone && [...this.#sent.values()].some((at) => now - at < this.#timing.handshakeRetry)) return false;
    if (last === undefined && this.#sent.size >= MAX_HANDSHAKES_IN_FLIGHT) {
      this.#dropAnswered(now);
      if (this.#sent.size >= MAX_HANDSHAKES_IN_FLIGHT) return false;
    }
    this.#sent.set(to.endpoint, now);
    return true;
  }

  /** Whether something (a death notice) may go to `endpoint` now, at most once per `handshakeRetry`. */
  spaced(now: number, endpoint: string): boolean {
    return this.handshake(now, { endpoint }, true, false);
  }

  /** A link to `endpoint` is up: the next handshake there need not wait. */
  linked(endpoint: string): void {
    this.#sent.delete(endpoint);
  }

  /** A beacon of `id`, unknown or not live to us, that we do not answer at once. */
  beaconLater(now: number, id: string, contact: Endpoint): void {
    const lagging = this.#passedOver.has(id);
    this.#beacons.add({ id, due: now + this.#timing.beaconInterval * (1 + this.#random()), endpoint: contact.endpoint, ...(contact.key && { key: contact.key }), always: lagging });
  }

  /** A message from a sender we do not know. */
  stranger(now: number, from: Contact): void {
    this.#strangers.add({ id: from.id, due: now + this.#catchUpPause() * (1 + this.#random()), endpoint: from.endpoint, ...(from.key && { key: from.key }), always: true });
  }

  /** The delayed handshakes to make now, given who is a live member and how many there are. */
  due(now: number, isLive: (id: string) => boolean, liveCount: number): Endpoint[] {
    const handshakes: Endpoint[] = [];
    for (const join of [...this.#beacons.takeDue(now), ...this.#strangers.takeDue(now)]) {
      if (isLive(join.id)) continue;
      if (liveCount === 0) handshakes.push(join);
      else if (join.always || this.#behind(now, isLive)) {
        if (now - this.#caughtUp < this.#catchUpPause()) continue;
        this.#caughtUp = now;
        this.#passedOver.clear();
        handshakes.push(join);
      } else if (this.#random() * liveCount < this.#timing.gossipFanout) handshakes.push(join);
      else {
        // Left to others: if it is still unknown to us a while later, we lag behind.
        if (this.#passedOver.size < MAX_DELAYED) this.#passedOver.set(join.id, now);
        this.#strangers.add({ ...join, due: now + this.#catchUpPause() * (1 + this.#random()), always: true });
      }
    }
    return handshakes;
  }

  #catchUpPause(): number {
    return (this.#timing.beaconInterval * this.#timing.quietBeaconFactor) / 2;
  }

  /** Several peers we left to others lately are still unknown to us. */
  #behind(now: number, isLive: (id: string) => boolean): boolean {
    let unknown = 0;
    for (const [id, at] of this.#passedOver) {
      if (!isLive(id) && now - at < 2 * this.#catchUpPause() && ++unknown >= this.#timing.gossipFanout) return true;
    }
    return false;
  }

  /** Drops what is old: handshakes sent long ago, peers passed over long ago or now members. */
  prune(now: number, isLive: (id: string) => boolean): void {
    for (const [id, at] of this.#passedOver) if (isLive(id) || now - at >= this.#timing.forgetAfter / 10) this.#passedOver.delete(id);
    this.#dropAnswered(now);
  }

  /** Forgets handshakes older than `handshakeRetry`: answered by now, or never to be. */
  #dropAnswered(now: number): void {
    for (const [endpoint, at] of this.#sent) if (now - at >= this.#timing.handshakeRetry) this.#sent.delete(endpoint);
  }
}
