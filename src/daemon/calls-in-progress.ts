import { RunningCount } from "../running-count.js";

/** A connection's count of running calls stays when it falls to 0 until this many connections are counted. */
const PRUNE_MIN = 64;

/** A request still running whose caller waits for a reply; answered exactly once. */
export class Unanswered {
  /** Links in the list of calls still waiting; `waiting` false once settled or abandoned. */
  prev: Unanswered | undefined;
  next: Unanswered | undefined;
  waiting = false;

  /** `answer`: how a call of a protocol front (no peer of the daemon's own) learns that close() gave up on it. */
  constructor(
    readonly peer: Buffer,
    readonly peerId: string,
    readonly id: number,
    readonly answer?: (error: unknown) => void,
  ) {}
}

/**
 * The calls a daemon is running (methods whose promises have not settled), per connection,
 * for the per-connection limit, for close() to wait for, and to answer those close() gives up on.
 *
 * No Set of calls and no Map entry deleted whenever a count falls to 0: a hash table whose
 * entries come and go is rehashed into new tables again and again, and V8 links each table to
 * the next, so one promoted table kept all later ones and their calls alive through scavenges
 * (see src/proxy/pending-table.ts). The waiting calls are a linked list; counts at 0 are
 * pruned only when many connections have been counted.
 */
export class CallsInProgress {
  readonly #total = new RunningCount();
  readonly #byPeer = new Map<string, number>();
  #pruneAt = PRUNE_MIN;
  #first: Unanswered | undefined;
  #last: Unanswered | undefined;

  /** Calls running for one connection. */
  of(peerId: string): number {
    return this.#byPeer.get(peerId) ?? 0;
  }

  begin(peerId: string, call: Unanswered | undefined): void {
    this.#total.begin();
    this.#byPeer.set(peerId, this.of(peerId) + 1);
    if (call) this.#link(call);
  }

  /** Whether `call` is still to be answered by its method's outcome (false: close() answered it). */
  settle(call: Unanswered | undefined): boolean {
    if (!call) return true;
    if (!call.waiting) return false;
    this.#unlink(call);
    return true;
  }

  end(peerId: string): void {
    const left = this.of(peerId) - 1;
    this.#byPeer.set(peerId, left);
    if (left === 0 && this.#byPeer.size > this.#pruneAt) this.#prune();
    this.#total.end();
  }

  /** Resolves when no call runs any more, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    return this.#total.none(timeoutMs);
  }

  /** The calls still waiting for a reply, which their methods' outcomes will no longer give. */
  abandon(): Unanswered[] {
    const calls: Unanswered[] = [];
    while (this.#first) {
      calls.push(this.#first);
      this.#unlink(this.#first);
    }
    return calls;
  }

  #link(call: Unanswered): void {
    call.waiting = true;
    call.prev = this.#last;
    if (this.#last) this.#last.next = call;
    else this.#first = call;
    this.#last = call;
  }

  #unlink(call: Unanswered): void {
    call.waiting = false;
    if (call.prev) call.prev.next = call.next;
    else this.#first = call.next;
    if (call.next) call.next.prev = call.prev;
    else this.#last = call.prev;
    call.prev = call.next = undefined;
  }

  /** Forgets the connections with no call running; the next prune waits until twice as many remain. */
  #prune(): void {
    for (const [peerId, running] of this.#byPeer) if (running === 0) this.#byPeer.delete(peerId);
    this.#pruneAt = Math.max(PRUNE_MIN, 2 * this.#byPeer.size);
  }
}
