/**
 * Where a nameserver keeps its registrations. Every backend answers the same queries
 * itself (prefix, regex, metadata), so each can use its own indexes.
 */

/** One name in the nameserver. */
export interface Registration {
  readonly name: string;
  readonly uri: string;
  /** Tags, sorted and without duplicates. */
  readonly metadata: readonly string[];
}

/** A query over registrations; every given criterion must hold. */
export interface NameQuery {
  /** Names starting with this. */
  readonly prefix?: string;
  /** Names matched by this (a linear-time RegExp, see naming/safe-regex.ts). */
  readonly regex?: RegExp;
  /** Registrations carrying every one of these tags. */
  readonly metadataAll?: readonly string[];
  /** Registrations carrying at least one of these tags. */
  readonly metadataAny?: readonly string[];
}

export interface NameStorage {
  get(name: string): Registration | undefined;
  /** Inserts or replaces. */
  put(registration: Registration): void;
  /** Inserts only when the name is free; returns whether it did. */
  putIfAbsent(registration: Registration): boolean;
  /** Replaces the tags of a name; returns false when the name is unknown. */
  setMetadata(name: string, metadata: readonly string[]): boolean;
  /** Removes names; returns the registrations that were there. */
  remove(names: readonly string[]): Registration[];
  /** Registrations matching the query, ordered by name. */
  list(query: NameQuery): Registration[];
  count(): number;
  close(): void;
}

/** Whether a registration matches a query's tag criteria. */
export function matchesTags(registration: Registration, query: NameQuery): boolean {
  // An empty tag list is no criterion, as in Pyro.
  if (query.metadataAll?.length && !query.metadataAll.every((tag) => registration.metadata.includes(tag))) return false;
  if (query.metadataAny?.length && !query.metadataAny.some((tag) => registration.metadata.includes(tag))) return false;
  return true;
}
