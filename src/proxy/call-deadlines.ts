/**
 * When a channel's calls time out, with one timer for all of them instead of a setTimeout and a
 * clearTimeout per call (a Timeout object, and two timer-list updates, for a call answered in
 * microseconds). Each call keeps its own deadline; the timer is set for the earliest known and
 * moved only when a new call's is earlier, which is rare: a proxy's calls share one timeout, so
 * a later call's deadline is later. When the timer fires, `expire` fails the calls past their
 * deadlines and says the earliest of the rest, and the timer is set for that.
 *
 * The timer is unref'd: it never keeps a process alive by itself (a connection with calls
 * waiting does).
 */
export class CallDeadlines {
  readonly #expire: (now: number) => number;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is set for; Infinity when it is not set. */
  #at = Infinity;

  /** `expire(now)` fails the calls whose deadline is not after `now` and returns the earliest deadline left (Infinity: none). */
  constructor(expire: (now: number) => number) {
    this.#expire = expire;
  }

  /** A call with this deadline (ms since the epoch; Infinity: none) is waiting. */
  add(deadline: number): void {
    if (deadline < this.#at) this.#set(deadline);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }

  #set(deadline: number): void {
    clearTimeout(this.#timer);
    this.#at = deadline;
    this.#timer = setTimeout(this.#fire, Math.max(1, deadline - Date.now())).unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#at = Infinity;
    const next = this.#expire(Date.now());
    if (next < this.#at) this.#set(next);
  };
}
