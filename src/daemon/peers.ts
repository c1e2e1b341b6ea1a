/**
 * Which client connections are alive. ZeroMQ does not tell a ROUTER which routing id
 * went away, so every message counts as a sign of life (clients send heartbeats when
 * idle) and peers silent for longer than the timeout are dropped.
 */
export class PeerTracker {
  readonly #lastSeen = new Map<string, number>();
  readonly #timeout: number;
  readonly #onGone: (peerId: string) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, onGone: (peerId: string) => void) {
    this.#timeout = timeoutMs;
    this.#onGone = onGone;
  }

  seen(peerId: string): void {
    // Delete first so the Map stays ordered by last activity: the sweep stops at the first live peer.
    this.#lastSeen.delete(peerId);
    this.#lastSeen.set(peerId, Date.now());
  }

  get size(): number {
    return this.#lastSeen.size;
  }

  start(sweepEveryMs: number): void {
    this.#timer ??= setInterval(() => this.sweep(), sweepEveryMs).unref();
  }

  sweep(now = Date.now()): void {
    for (const [peerId, at] of this.#lastSeen) {
      if (now - at <= this.#timeout) break;
      this.#lastSeen.delete(peerId);
      this.#onGone(peerId);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#lastSeen.clear();
  }
}
