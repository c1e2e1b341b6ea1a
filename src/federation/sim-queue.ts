/**
 * The simulator's virtual clock: a priority queue of actions keyed by virtual time (ms).
 * Actions due at the same time run in the order they were scheduled, so a seeded run is
 * replayed exactly.
 */
export class EventQueue {
  #times: number[] = [];
  #seqs: number[] = [];
  #actions: (() => void)[] = [];
  #seq = 0;
  #now = 0;

  /** The virtual time of the action running, or of the last one run. */
  get now(): number {
    return this.#now;
  }

  get size(): number {
    return this.#times.length;
  }

  /** The time of the earliest pending action (Infinity when none). */
  get next(): number {
    return this.#times.length > 0 ? this.#times[0]! : Infinity;
  }

  /** Runs `action` at virtual time `at` (now, if `at` is in the past). */
  schedule(at: number, action: () => void): void {
    const time = Math.max(at, this.#now);
    const seq = this.#seq++;
    let i = this.#times.length;
    this.#times.push(time);
    this.#seqs.push(seq);
    this.#actions.push(action);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(time, seq, this.#times[parent]!, this.#seqs[parent]!)) break;
      this.#move(parent, i);
      i = parent;
    }
    this.#set(i, time, seq, action);
  }

  /**
   * Runs every action due up to `until` (inclusive), then sets the clock to `until`; or
   * stops as soon as `stop` (checked after each action) is true, the clock where it was.
   * Returns whether it was stopped.
   */
  runUntil(until: number, stop?: () => boolean): boolean {
    while (this.#times.length > 0 && this.#times[0]! <= until) {
      this.#runNext();
      if (stop?.()) return true;
    }
    this.#now = Math.max(this.#now, until);
    return false;
  }

  /** Runs the earliest action; false when there is none. */
  step(): boolean {
    if (this.#times.length === 0) return false;
    this.#runNext();
    return true;
  }

  #runNext(): void {
    const time = this.#times[0]!;
    const action = this.#actions[0]!;
    const lastTime = this.#times.pop()!;
    const lastSeq = this.#seqs.pop()!;
    const lastAction = this.#actions.pop()!;
    if (this.#times.length > 0) this.#siftDown(lastTime, lastSeq, lastAction);
    this.#now = time;
    action();
  }

  #siftDown(time: number, seq: number, action: () => void): void {
    const size = this.#times.length;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && this.#before(this.#times[right]!, this.#seqs[right]!, this.#times[left]!, this.#seqs[left]!) ? right : left;
      if (!this.#before(this.#times[child]!, this.#seqs[child]!, time, seq)) break;
      this.#move(child, i);
      i = child;
    }
    this.#set(i, time, seq, action);
  }

  #before(timeA: number, seqA: number, timeB: number, seqB: number): boolean {
    return timeA < timeB || (timeA === timeB && seqA < seqB);
  }

  #move(from: number, to: number): void {
    this.#times[to] = this.#times[from]!;
    this.#seqs[to] = this.#seqs[from]!;
    this.#actions[to] = this.#actions[from]!;
  }

  #set(i: number, time: number, seq: number, action: () => void): void {
    this.#times[i] = time;
    this.#seqs[i] = seq;
    this.#actions[i] = action;
  }
}
