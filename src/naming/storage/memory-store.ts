import { matchesTags, type NameQuery, type NameStorage, type Registration } from "./name-storage.js";

/** First index in `sorted` whose value is >= `value`. */
function lowerBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Registrations in memory, with a sorted name index (prefix queries by binary search)
 * and an inverted tag index (metadata queries touch only tagged names).
 */
export class MemoryStore implements NameStorage {
  readonly #byName = new Map<string, Registration>();
  #sorted: string[] = [];
  readonly #byTag = new Map<string, Set<string>>();

  get(name: string): Registration | undefined {
    return this.#byName.get(name);
  }

  put(registration: Registration): void {
    const previous = this.#byName.get(registration.name);
    if (previous) this.#unindexTags(previous);
    else this.#sorted.splice(lowerBound(this.#sorted, registration.name), 0, registration.name);
    this.#byName.set(registration.name, registration);
    this.#indexTags(registration);
  }

  putIfAbsent(registration: Registration): boolean {
    if (this.#byName.has(registration.name)) return false;
    this.put(registration);
    return true;
  }

  setMetadata(name: string, metadata: readonly string[]): boolean {
    const previous = this.#byName.get(name);
    if (!previous) return false;
    this.put({ ...previous, metadata });
    return true;
  }

  remove(names: readonly string[]): Registration[] {
    const removed: Registration[] = [];
    for (const name of names) {
      const registration = this.#byName.get(name);
      if (!registration) continue;
      this.#byName.delete(name);
      this.#unindexTags(registration);
      removed.push(registration);
    }
    if (removed.length === 1) this.#sorted.splice(lowerBound(this.#sorted, removed[0]!.name), 1);
    else if (removed.length > 1) this.#sorted = this.#sorted.filter((name) => this.#byName.has(name));
    return removed;
  }

  list(query: NameQuery): Registration[] {
    const results: Registration[] = [];
    for (const name of this.#candidates(query)) {
      if (query.prefix !== undefined && !name.startsWith(query.prefix)) continue;
      if (query.regex && !query.regex.test(name)) continue;
      const registration = this.#byName.get(name)!;
      if (matchesTags(registration, query)) results.push(registration);
    }
    return results;
  }

  count(): number {
    return this.#byName.size;
  }

  close(): void {}

  /** Names worth checking, in order: the tag index or the prefix range when they narrow it. */
  #candidates(query: NameQuery): Iterable<string> {
    if (query.metadataAll?.length) {
      const sets = query.metadataAll.map((tag) => this.#byTag.get(tag) ?? new Set<string>());
      const smallest = sets.reduce((a, b) => (a.size <= b.size ? a : b));
      return [...smallest].sort();
    }
    if (query.metadataAny?.length) {
      const union = new Set<string>();
      for (const tag of query.metadataAny) for (const name of this.#byTag.get(tag) ?? []) union.add(name);
      return [...union].sort();
    }
    if (query.prefix) {
      const start = lowerBound(this.#sorted, query.prefix);
      let end = start;
      while (end < this.#sorted.length && this.#sorted[end]!.startsWith(query.prefix)) end++;
      return this.#sorted.slice(start, end);
    }
    return this.#sorted;
  }

  #indexTags(registration: Registration): void {
    for (const tag of registration.metadata) {
      let names = this.#byTag.get(tag);
      if (!names) this.#byTag.set(tag, (names = new Set()));
      names.add(registration.name);
    }
  }

  #unindexTags(registration: Registration): void {
    for (const tag of registration.metadata) {
      const names = this.#byTag.get(tag);
      names?.delete(registration.name);
      if (names?.size === 0) this.#byTag.delete(tag);
    }
  }
}
