import { isLive, type MemberRecord } from "./member.js";

/** One row of the heartbeat table: a member's record, and what this nameserver noted about it. */
export interface Member {
  record: MemberRecord;
  /** When it last sent us something directly (ms), or null. */
  lastHeard: number | null;
  /** When we learned of its current suspicion. */
  suspectedAt: number;
  /** When its state last changed. */
  changedAt: number;
}

/**
 * The members a nameserver knows, without ourselves, indexed for what every step asks:
 * how many are live, a few of them at random, the leader of a domain. Those are kept up
 * to date as records change, not recomputed: at 1,000 members a step must not cost a scan.
 */
export class MemberTable {
  readonly #members = new Map<string, Member>();
  /** Live (alive or suspect) records, rebuilt when the live set changed; positions by id. */
  #live: MemberRecord[] | undefined;
  readonly #position = new Map<string, number>();
  #liveCount = 0;
  /** Lowest live id per domain, ourselves included; rebuilt when a leader goes. */
  #leaders: Map<string, string> | undefined;
  readonly #self: () => MemberRecord;

  /** `self`: our own record, which counts for leadership while live. */
  constructor(self: () => MemberRecord) {
    this.#self = self;
  }

  /** Members known, live or not. */
  get size(): number {
    return this.#members.size;
  }

  /** Alive and suspect members. */
  get liveCount(): number {
    return this.#liveCount;
  }

  get(id: string): Member | undefined {
    return this.#members.get(id);
  }

  isLive(id: string): boolean {
    const member = this.#members.get(id);
    return member !== undefined && isLive(member.record.state);
  }

  values(): IterableIterator<Member> {
    return this.#members.values();
  }

  /** Adds a member first heard of, by a live record. */
  add(record: MemberRecord, now: number): Member {
    const member: Member = { record, lastHeard: null, suspectedAt: now, changedAt: now };
    this.#members.set(record.id, member);
    this.#liveCount++;
    this.#live = undefined;
    this.#cameAlive(record);
    return member;
  }

  /** Replaces a member's record; returns whether the live set changed (it came alive or stopped being live). */
  replace(member: Member, record: MemberRecord): boolean {
    const previous = member.record;
    member.record = record;
    const wasLive = isLive(previous.state);
    const live = isLive(record.state);
    if (previous.domain !== record.domain || (wasLive && !live && this.#leaders?.get(record.domain) === record.id)) this.#leaders = undefined;
    else if (live) this.#cameAlive(record);
    if (wasLive === live) {
      if (live && this.#live) this.#live[this.#position.get(record.id)!] = record;
      return false;
    }
    this.#liveCount += live ? 1 : -1;
    this.#live = undefined;
    return true;
  }

  /** Forgets a member that is not live. */
  delete(id: string): void {
    this.#members.delete(id);
  }

  /** Our own record changed state (we left): leadership is recomputed. */
  selfChanged(): void {
    this.#leaders = undefined;
  }

  liveRecords(): readonly MemberRecord[] {
    if (!this.#live) {
      const live: MemberRecord[] = [];
      this.#position.clear();
      for (const { record } of this.#members.values()) {
        if (!isLive(record.state)) continue;
        this.#position.set(record.id, live.length);
        live.push(record);
      }
      this.#live = live;
    }
    return this.#live;
  }

  /** Up to `count` distinct live members, at random. */
  randomLive(count: number, random: () => number): MemberRecord[] {
    const live = this.liveRecords();
    if (live.length <= count) return [...live];
    const picked = new Set<MemberRecord>();
    while (picked.size < count) picked.add(live[Math.floor(random() * live.length)]!);
    return [...picked];
  }

  /** The lowest live id of a beacon domain, ourselves included. */
  leaderOf(domain: string): string | undefined {
    if (!this.#leaders) {
      this.#leaders = new Map();
      const self = this.#self();
      if (isLive(self.state)) this.#cameAlive(self);
      for (const { record } of this.#members.values()) if (isLive(record.state)) this.#cameAlive(record);
    }
    return this.#leaders.get(domain);
  }

  #cameAlive(record: MemberRecord): void {
    if (!this.#leaders) return;
    const current = this.#leaders.get(record.domain);
    if (current === undefined || record.id < current) this.#leaders.set(record.domain, record.id);
  }
}
