/** Slots of the ring: ids this far apart share none. */
const RING_SLOTS = 1024;
const MASK = RING_SLOTS - 1;

/**
 * The calls of a connection waiting for replies, by correlation id (ids are handed out in
 * sequence, so recent ones fall into a ring of slots by their low bits).
 *
 * Not a Map: a Map whose entries come and go all the time is rehashed into a new table again
 * and again, and V8 links each table it leaves to the next (for iterators still on it). Once
 * one of those tables had been promoted to the old generation, every later table, and the
 * calls in it, survived each scavenge (a dead old object keeps the young ones it points to
 * alive until a full GC): a proxy whose connection was idle a while before a burst of calls
 * spent twice the CPU per call (docs/performance.md, "Fewer objects per call"). A slot
 * cleared is cleared. A call still waiting when a call 1024 ids later needs its slot moves to
 * a Map of such long calls, which changes rarely.
 */
export class PendingTable<T> {
  readonly #ids = new Float64Array(RING_SLOTS).fill(-1);
  readonly #slots: (T | undefined)[] = new Array<T | undefined>(RING_SLOTS).fill(undefined);
  readonly #long = new Map<number, T>();

  get(id: number): T | undefined {
    const slot = id & MASK;
    return this.#ids[slot] === id ? this.#slots[slot] : this.#long.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds a call (`id` not waiting already). */
  set(id: number, value: T): void {
    const slot = id & MASK;
    const occupant = this.#slots[slot];
    if (occupant !== undefined) this.#long.set(this.#ids[slot]!, occupant);
    this.#ids[slot] = id;
    this.#slots[slot] = value;
  }

  delete(id: number): boolean {
    const slot = id & MASK;
    if (this.#ids[slot] === id && this.#slots[slot] !== undefined) {
      this.#slots[slot] = undefined;
      this.#ids[slot] = -1;
      return true;
    }
    return this.#long.delete(id);
  }

  /** A snapshot of the entries, by ascending id (the order they were made in, unless the ids wrapped around). */
  entries(): [number, T][] {
    const entries: [number, T][] = [...this.#long];
    for (let slot = 0; slot < RING_SLOTS; slot++) {
      const value = this.#slots[slot];
      if (value !== undefined) entries.push([this.#ids[slot]!, value]);
    }
    return entries.sort((a, b) => a[0] - b[0]);
  }
}
