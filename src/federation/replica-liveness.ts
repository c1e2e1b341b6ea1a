/**
 * Which origins a replica shows, as membership reported them: up (live peers: pushes and
 * anti-entropy go to them, their names show), down (hidden, since when: declared dead or
 * left, or never reported up) and gone (dropped past their grace: since when, and the
 * version the replica had, which stays in its digest so peers do not send it again).
 * Remote origins (other clusters' names, remote-origin.ts) are up or down the same way,
 * as the leader reports them (replica-remote.ts), but are no peers: nothing is sent to them.
 */
export class OriginLiveness {
  readonly #self: string;
  /** In the order they came, so a seeded random pick is reproducible. */
  readonly #up = new Set<string>();
  readonly #upRemote = new Set<string>();
  readonly #down = new Map<string, number>();
  readonly #gone = new Map<string, { readonly since: number; readonly complete: number }>();

  constructor(self: string) {
    this.#self = self;
  }

  get peerCount(): number {
    return this.#up.size;
  }

  /** Whether an origin's names show: ours always, a peer's or a remote origin's while it is up. */
  visible(origin: string): boolean {
    return origin === this.#self || this.#up.has(origin) || this.#upRemote.has(origin);
  }

  isGone(origin: string): boolean {
    return this.#gone.has(origin);
  }

  /** Marks a peer up; true when it was not (its names show from now). */
  up(id: string): boolean {
    this.#gone.delete(id);
    this.#down.delete(id);
    if (this.#up.has(id)) return false;
    this.#up.add(id);
    return true;
  }

  /** Marks a remote origin up (never a peer: pick() does not choose it); true when it was not. */
  upRemote(id: string): boolean {
    this.#gone.delete(id);
    this.#down.delete(id);
    if (this.#upRemote.has(id)) return false;
    this.#upRemote.add(id);
    return true;
  }

  /** Remote origins up now. */
  remoteUp(): IterableIterator<string> {
    return this.#upRemote.values();
  }

  /** Marks a peer or remote origin down from `now` (or from when it went down, if it already was); true when it was up. */
  down(now: number, id: string): boolean {
    const wasUp = this.#up.delete(id) || this.#upRemote.delete(id);
    if (!this.#down.has(id) && !this.#gone.has(id)) this.#down.set(id, now);
    return wasUp;
  }

  /** An origin a record came from: hidden from now if never reported up. */
  noted(now: number, origin: string): void {
    if (origin !== this.#self && !this.#up.has(origin) && !this.#upRemote.has(origin) && !this.#down.has(origin) && !this.#gone.has(origin)) this.#down.set(origin, now);
  }

  /** Origins down for `grace` or more by `now`, to drop. */
  expired(now: number, grace: number): string[] {
    return [...this.#down].filter(([, since]) => now - since >= grace).map(([id]) => id);
  }

  /** An origin dropped: remembered as gone, with the version the replica had, until `grace` passes. */
  dropped(now: number, origin: string, complete: number): void {
    this.#down.delete(origin);
    this.#gone.set(origin, { since: now, complete });
  }

  /** Forgets origins gone for `grace`: by then every peer that held them down has dropped them too. */
  forget(now: number, grace: number): void {
    for (const [id, gone] of this.#gone) if (now - gone.since >= grace) this.#gone.delete(id);
  }

  /** Gone origins with the version the replica had. */
  goneVersions(): IterableIterator<[string, { readonly complete: number }]> {
    return this.#gone.entries();
  }

  /** The earliest time an origin's grace ends. */
  nextDeadline(grace: number): number {
    let next = Infinity;
    for (const since of this.#down.values()) next = Math.min(next, since + grace);
    for (const gone of this.#gone.values()) next = Math.min(next, gone.since + grace);
    return next;
  }

  /** Up to `count` random live peers, none of `exclude`. */
  pick(count: number, exclude: ReadonlySet<string>, random: () => number): string[] {
    const peers = [...this.#up].filter((id) => !exclude.has(id));
    const n = Math.min(count, peers.length);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(random() * (peers.length - i));
      [peers[i], peers[j]] = [peers[j]!, peers[i]!];
    }
    return peers.slice(0, n);
  }
}
