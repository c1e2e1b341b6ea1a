/** A request still running whose caller waits for a reply; answered exactly once. */
export interface Unanswered {
  readonly peer: Buffer;
  readonly peerId: string;
  readonly id: number;
  /** How a call of a protocol front (no peer of the daemon's own) learns that close() gave up on it. */
  readonly answer?: (error: unknown) => void;
}

/**
 * The calls a daemon is running (methods whose promises have not settled), per connection,
 * for the per-connection limit, for close() to wait for, and to answer those close() gives up on.
 */
export class CallsInProgress {
  #total = 0;
  readonly #byPeer = new Map<string, number>();
  readonly #unanswered = new Set<Unanswered>();
  #whenIdle: (() => void) | undefined;

  /** Calls running for one connection. */
  of(peerId: string): number {
    return this.#byPeer.get(peerId) ?? 0;
  }

  begin(peerId: string, call: Unanswered | undefined): void {
    this.#total++;
    this.#byPeer.set(peerId, this.of(peerId) + 1);
    if (call) this.#unanswered.add(call);
  }

  /** Whether `call` is still to be answered by its method's outcome (false: close() answered it). */
  settle(call: Unanswered | undefined): boolean {
    return !call || this.#unanswered.delete(call);
  }

  end(peerId: string): void {
    const left = this.of(peerId) - 1;
    if (left === 0) this.#byPeer.delete(peerId);
    else this.#byPeer.set(peerId, left);
    if (--this.#total === 0) this.#whenIdle?.();
  }

  /** Resolves when no call runs any more, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    if (this.#total === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (this.#whenIdle = resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** The calls still waiting for a reply, which their methods' outcomes will no longer give. */
  abandon(): Unanswered[] {
    const calls = [...this.#unanswered];
    this.#unanswered.clear();
    return calls;
  }
}
