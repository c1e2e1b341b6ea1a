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

/**
 * Reads are answered at once (a shared store answers from a local view it keeps current);
 * writes of a shared store resolve once the change is committed there, and reject with a
 * NamingError when it cannot be (unreachable), changing nothing.
 */
export interface NameStorage {
  get(name: string): Registration | undefined;
  /** Inserts or replaces. */
  put(registration: Registration): void | Promise<void>;
  /** Inserts only when the name is free; returns whether it did (atomically, for a shared store). */
  putIfAbsent(registration: Registration): boolean | Promise<boolean>;
  /** Replaces the tags of a name; returns false when the name is unknown. */
  setMetadata(name: string, metadata: readonly string[]): boolean | Promise<boolean>;
  /** Removes names; returns the registrations that were there. */
  remove(names: readonly string[]): Registration[] | Promise<Registration[]>;
  /** Registrations matching the query, ordered by name. */
  list(query: NameQuery): Registration[];
  count(): number;
  close(): void | Promise<void>;
  /**
   * Present on a store shared by several nameservers (etcd): every change to it, made
   * through this nameserver or another, in commit order. The nameserver announces these on
   * its signals instead of its own writes.
   */
  readonly shared?: SharedStore;
}

/** A store of one nameserver's own (memory, file, sqlite): every operation is done when it returns. */
export interface LocalNameStorage extends NameStorage {
  put(registration: Registration): void;
  putIfAbsent(registration: Registration): boolean;
  setMetadata(name: string, metadata: readonly string[]): boolean;
  remove(names: readonly string[]): Registration[];
  close(): void;
}

/** A change seen in a shared store. */
export type StorageChange =
  | { readonly kind: "registered" | "metadataChanged" | "removed"; readonly registration: Registration }
  /** The view was rebuilt from a fresh listing (its history was compacted away): the differences came as changes just before this. */
  | { readonly kind: "resync" };

/** What a shared store adds: its changes, and whether its view is current. */
export interface SharedStore {
  readonly changes: { connect(slot: (change: StorageChange) => unknown): unknown };
  /** Whether the view may be out of date (the store is unreachable); lookups still answer from it. */
  readonly stale: boolean;
  /** This nameserver's id in the store: the origin of the names registered through it. */
  readonly id: string;
  /** The id of the nameserver a name was registered through. */
  originOf(name: string): string | undefined;
}

/** Whether a registration matches a query's tag criteria. */
export function matchesTags(registration: Registration, query: NameQuery): boolean {
  // An empty tag list is no criterion, as in Pyro.
  if (query.metadataAll?.length && !query.metadataAll.every((tag) => registration.metadata.includes(tag))) return false;
  if (query.metadataAny?.length && !query.metadataAny.some((tag) => registration.metadata.includes(tag))) return false;
  return true;
}
