import { matchesTags, type NameQuery, type LocalNameStorage, type Registration } from "./name-storage.js";

/**
 * Compares strings by code point, as SQLite's BINARY collation does on UTF-8, so every
 * store orders names alike (JS `<` compares UTF-16 code units: astral characters would
 * sort before U+E000–U+FFFF).
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** First index in `sorted` whose value is >= `value`. */
function lowerBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareNames(sorted[mid]!, value) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Registrations in memory, with a sorted name index (prefix queries by binary search) and
 * an inverted tag index (metadata queries touch only tagged names). Inserts and removals
 * are O(1): new names wait in a small unsorted list and removed ones stay in the sorted
 * index as stale entries, until the next query merges and compacts.
 */
export class MemoryStore implements LocalNameStorage {
  readonly #byName = new Map<string, Registration>();
  readonly #byTag = new Map<string, Set<string>>();
  /** Sorted names; may hold removed (stale) names, skipped when read. */
  #sorted: string[] = [];
  /** Names added since the last merge, unsorted. */
  #added: string[] = [];
  #stale = 0;
  /** Whether any name has characters above U+FFFF; until then the fast native sort orders by code point too. */
  #astral = false;

  get(name: string): Registration | undefined {
    return this.#byName.get(name);
  }

  put(registration: Registration): void {
    const previous = this.#byName.get(registration.name);
    if (previous) this.#unindexTags(previous);
    else {
      this.#added.push(registration.name);
      if (!this.#astral && /[\uD800-\uDFFF]/.test(registration.name)) this.#astral = true;
    }
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
      this.#stale++;
    }
    return removed;
  }

  list(query: NameQuery): Registration[] {
    const results: Registration[] = [];
    for (const name of this.#candidates(query)) {
      const registration = this.#byName.get(name);
      if (!registration) continue; // a stale entry of the sorted index
      if (query.prefix !== undefined && !name.startsWith(query.prefix)) continue;
      if (query.regex && !query.regex.test(name)) continue;
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
      return this.#inOrder(sets.reduce((a, b) => (a.size <= b.size ? a : b)));
    }
    if (query.metadataAny?.length) {
      const union = new Set<string>();
      for (const tag of query.metadataAny) for (const name of this.#byTag.get(tag) ?? []) union.add(name);
      return this.#inOrder(union);
    }
    const sorted = this.#merged();
    if (query.prefix) {
      const start = lowerBound(sorted, query.prefix);
      let end = start;
      while (end < sorted.length && sorted[end]!.startsWith(query.prefix)) end++;
      return sorted.slice(start, end);
    }
    return sorted;
  }

  /** Names of a set, in order. */
  #inOrder(names: ReadonlySet<string>): string[] {
    return this.#sort([...names]);
  }

  #sort(names: string[]): string[] {
    return this.#astral ? names.sort(compareNames) : names.sort();
  }

  /** The sorted index with recent additions merged in and stale names dropped. */
  #merged(): string[] {
    if (this.#added.length === 0 && this.#stale === 0) return this.#sorted;
    const added = this.#sort(this.#added);
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    const push = (name: string): void => {
      // Skip removed names and duplicates (a name removed and added again).
      if (this.#byName.has(name) && merged[merged.length - 1] !== name) merged.push(name);
    };
    while (i < this.#sorted.length || j < added.length) {
      if (j >= added.length || (i < this.#sorted.length && compareNames(this.#sorted[i]!, added[j]!) <= 0)) push(this.#sorted[i++]!);
      else push(added[j++]!);
    }
    this.#sorted = merged;
    this.#added = [];
    this.#stale = 0;
    return merged;
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
