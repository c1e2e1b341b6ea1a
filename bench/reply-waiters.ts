/** How many answered waiters are dropped at once (trimmed now and then rather than shifted each time). */
const TRIM_AT = 4096;

/**
 * The raw baselines' matching of replies to requests: replies come back in order (the raw
 * servers answer one message at a time), so a FIFO of waiters is all it needs. Answered
 * waiters must go: an array keeping every one of them keeps every reply alive, which the
 * garbage collector then copies into the old generation (99 % of each scavenge promoted).
 */
export class ReplyWaiters<T> {
  readonly #waiters: ((reply: T) => void)[] = [];
  #head = 0;

  /** A promise of the next reply not yet waited for. */
  next(): Promise<T> {
    return new Promise<T>((resolve) => this.#waiters.push(resolve));
  }

  /** Hands a reply to the oldest waiter. */
  answer(reply: T): void {
    const waiter = this.#waiters[this.#head]!;
    if (++this.#head === TRIM_AT) {
      this.#waiters.splice(0, this.#head);
      this.#head = 0;
    }
    waiter(reply);
  }
}
