/** What a raw test peer counts of its connection. */
export type RawPeerEvent = "handshake" | "disconnect";

/** Counts a raw peer's connection events, and lets a test wait for the next one (bounded). */
export class ConnectionEvents {
  readonly #counts = { handshake: 0, disconnect: 0 };
  readonly #waiters: (() => void)[] = [];

  record(event: RawPeerEvent): void {
    this.#counts[event]++;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  count(event: RawPeerEvent): number {
    return this.#counts[event];
  }

  /** Waits until `event` has been seen more than `seen` times. */
  async next(event: RawPeerEvent, seen: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#counts[event] <= seen) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${event} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}
