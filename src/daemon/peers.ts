const MAX_FORGOTTEN = 10_000;
/** Activity this recent is not recorded again (far below any heartbeat timeout). */
const RECENT_MS = 20;

/**
 * Which client connections are alive. ZeroMQ does not tell a ROUTER which routing id
 * went away, so every message counts as a sign of life (clients send heartbeats when
 * idle) and peers silent for longer than the timeout are dropped.
 */
export class PeerTracker {
  readonly #lastSeen = new Map<string, number>();
  /** Peers dropped for silence, oldest first, so one that speaks again can be told. */
  readonly #forgotten = new Set<string>();
  readonly #timeout: number;
  readonly #onGone: (peerId: string) => void;
  readonly #isBusy: (peerId: string) => boolean;
  #timer: NodeJS.Timeout | undefined;
  #period = 0;
  #lastSweep = 0;

  /** `isBusy`: a peer with calls still running is alive, whatever its silence. */
  constructor(timeoutMs: number, onGone: (peerId: string) => void, isBusy: (peerId: string) => boolean = () => false) {
    this.#timeout = timeoutMs;
    this.#onGone = onGone;
    this.#isBusy = isBusy;
  }

  /** Records activity; returns true when the peer had been dropped for silence before. */
  seen(peerId: string): boolean {
    const now = Date.now();
    // A peer heard from a moment ago is alive: no need to move it (most messages of a busy peer).
    const at = this.#lastSeen.get(peerId);
    if (at !== undefined && now - at < RECENT_MS) return false;
    // Delete first so the Map stays ordered by last activity: the sweep stops at the first live peer.
    this.#lastSeen.delete(peerId);
    this.#lastSeen.set(peerId, now);
    return this.#forgotten.size > 0 && this.#forgotten.delete(peerId);
  }

  /** The transport says the connection ended (it never comes back under this id); returns whether it was tracked. */
  closed(peerId: string): boolean {
    return this.#lastSeen.delete(peerId);
  }

  has(peerId: string): boolean {
    return this.#lastSeen.has(peerId);
  }

  get size(): number {
    return this.#lastSeen.size;
  }

  start(sweepEveryMs: number): void {
    this.#period = sweepEveryMs;
    this.#lastSweep = Date.now();
    this.#timer ??= setInterval(() => this.sweep(), sweepEveryMs).unref();
  }

  sweep(now = Date.now()): void {
    const late = this.#period > 0 && now - this.#lastSweep > 2 * this.#period;
    this.#lastSweep = now;
    if (late) {
      // This process was blocked (a long synchronous method): the heartbeats peers sent
      // meanwhile are still unread. Their silence is ours; start counting afresh.
      for (const peerId of [...this.#lastSeen.keys()]) this.#lastSeen.set(peerId, now);
      return;
    }
    for (const [peerId, at] of [...this.#lastSeen]) {
      if (now - at <= this.#timeout) break;
      if (this.#isBusy(peerId)) {
        this.seen(peerId);
        continue;
      }
      this.#lastSeen.delete(peerId);
      this.#forgotten.add(peerId);
      if (this.#forgotten.size > MAX_FORGOTTEN) this.#forgotten.delete(this.#forgotten.values().next().value!);
      this.#onGone(peerId);
    }
  }

  /** Stops sweeping and forgets every peer; returns those that were still live (not dropped yet). */
  stop(): string[] {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const live = [...this.#lastSeen.keys()];
    this.#lastSeen.clear();
    this.#forgotten.clear();
    return live;
  }
}
