import { expose } from "../../decorators/index.js";
import { NamingError } from "../errors.js";
import { Signal } from "../signal.js";
import { formatUri, parseUri } from "../uri.js";
import { NAMESERVER_NAME, validateName, validateTags } from "../names.js";
import { compileNameRegex } from "./safe-regex.js";
import type { PeerChange, PeerChangeKind, PeerInfo } from "../federation/member.js";
import { checkRecordUri, parseQualified, type NameRecord } from "../federation/name-record.js";
import type { NameEvent } from "../federation/replica-view.js";
import type { Acknowledgement, ReplicatedNames } from "../federation/replication-driver.js";
import { compareNames } from "./storage/memory-store.js";
import { matchesTags, type NameQuery, type NameStorage, type Registration, type StorageChange } from "./storage/name-storage.js";

/** A name's URI with its metadata tags. */
export interface NameEntry {
  readonly uri: string;
  readonly metadata: string[];
  /** The id of the nameserver the name was registered on (federated nameservers only). */
  readonly origin?: string;
}

/** One nameserver's claim to a name: its URI, the nameserver (origin) and the qualified form that reaches it. */
export interface NameClaim {
  readonly uri: string;
  readonly metadata: string[];
  readonly origin: string;
  /** `name,<origin hex>`: looks this claim up whether it wins or loses. */
  readonly qualified: string;
}

/** A name claimed on more than one nameserver: the claim every nameserver shows, and the others. */
export interface NameConflict {
  readonly name: string;
  readonly winner: NameClaim;
  readonly losers: NameClaim[];
}

export interface RegisterOptions {
  /** Refuse when the name is already registered (default false: replace it). */
  readonly safe?: boolean;
  /**
   * Never replace: take the name if it is free (in the whole cluster, when federated), else
   * the first free of `name-2`, `name-3`... `register` returns the name taken.
   */
  readonly unique?: boolean;
  readonly metadata?: readonly string[];
}

/** Most suffixes tried for a unique name. */
const MAX_UNIQUE_SUFFIX = 100_000;

export interface ListOptions {
  readonly prefix?: string;
  /** Matched from the start of the name (as Pyro's re.match), in linear time. */
  readonly regex?: string;
  /** Only names carrying all these tags. */
  readonly metadataAll?: readonly string[];
  /** Only names carrying at least one of these tags. */
  readonly metadataAny?: readonly string[];
  /** Give `{ uri, metadata }` per name instead of the URI. */
  readonly returnMetadata?: boolean;
}

export type RemoveQuery = { readonly prefix: string } | { readonly regex: string };

/** A change in the federation's heartbeat table: the member's row, and what happened to it. */
export type PeerEvent = PeerInfo & { readonly change: PeerChangeKind };

/** What the nameserver uses of its federation: the heartbeat table, the cluster's names, and their changes. */
export interface FederationView {
  /** This nameserver's id in the cluster: the origin of its registrations. */
  readonly id: string;
  peers(): PeerInfo[];
  readonly peerChanged: { connect(slot: (change: PeerChange) => unknown): unknown };
  readonly names: ReplicatedNames;
  readonly nameChanged: { connect(slot: (event: NameEvent) => unknown): unknown };
}

/** `then(value)`, at once for a value, once settled for a promise: a shared store's writes are asynchronous, the others' are not. */
function after<T, R>(value: T | Promise<T>, then: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

/** `value`, or once a pair partner acknowledged the change (see ReplicatedNames): only a paired nameserver answers late. */
function settled<T>(acknowledgement: Acknowledgement, value: T): T | Promise<T> {
  return acknowledgement ? acknowledgement.then(() => value) : value;
}

function entry(registration: Registration, origin?: string): NameEntry {
  return { uri: registration.uri, metadata: [...registration.metadata], ...(origin !== undefined && { origin }) };
}

/** Whether a registration matches every criterion of a query (as the stores answer it). */
function matches(registration: Registration, query: NameQuery): boolean {
  if (query.prefix !== undefined && !registration.name.startsWith(query.prefix)) return false;
  if (query.regex && !query.regex.test(registration.name)) return false;
  return matchesTags(registration, query);
}

function checkedUri(uri: unknown): string {
  if (typeof uri !== "string") throw new NamingError("uri must be a string");
  const parsed = parseUri(uri);
  if (parsed.protocol !== "PYRO" || !parsed.location) throw new NamingError(`only PYRO: URIs with a location can be registered, not ${uri}`);
  return formatUri(parsed);
}

/**
 * The nameserver: logical names (`lab.laser`) mapped to object URIs with metadata tags.
 * An ordinary exposed object, served by an ordinary Daemon; its own entry is protected.
 * Changes are announced on the `registered`, `removed` and `metadataChanged` signals.
 *
 * Federated, its storage keeps only the names registered here (persisted as before), each
 * also published to the cluster; lookups, lists and counts answer from the local replica
 * of every nameserver's names, and the signals fire for changes made anywhere. Its own
 * entry stays local. Only the nameserver a name was registered on changes or removes it.
 */
@expose
export class NameServer {
  readonly registered = new Signal<[name: string, uri: string, metadata: string[]]>();
  readonly removed = new Signal<[name: string, uri: string]>();
  readonly metadataChanged = new Signal<[name: string, metadata: string[]]>();
  /** A peer nameserver joined, became suspect, dead or left, or was alive again (federation only). */
  readonly peerChanged = new Signal<[peer: PeerEvent]>();
  /**
   * A name registered here is also claimed on another nameserver, with an earlier claim:
   * lookups everywhere answer the winner's URI; ours stays reachable by its qualified form
   * (see `conflicts()`). Federation only.
   */
  readonly conflict = new Signal<[name: string, winnerUri: string, winnerOrigin: string]>();
  readonly #storage: NameStorage;
  #federation: FederationView | undefined;

  /**
   * The shared store (etcd) rebuilt its view from a fresh listing, its history having been
   * compacted away while this nameserver was cut off: the differences were told just before
   * on `registered`, `removed` and `metadataChanged`, so no change went untold.
   */
  readonly resynced = new Signal<[]>();

  constructor(storage: NameStorage) {
    this.#storage = storage;
    // A shared store tells every change, made here or on another nameserver, as it commits.
    storage.shared?.changes.connect((change) => this.#relay(change));
  }

  /** Records the nameserver's own URI under its protected name. Local only: `_` members are never remote. */
  _registerSelf(uri: string): void {
    this.#storage.put({ name: NAMESERVER_NAME, uri: checkedUri(uri), metadata: [] });
  }

  /**
   * Joins a federation: shows its heartbeat table (`peers()`, `peerChanged`), publishes the
   * names already stored here, and from now on answers from the cluster's names. Local only.
   */
  _federate(federation: FederationView): void {
    this.#federation = federation;
    federation.peerChanged.connect(({ change, peer }) => this.peerChanged.emit({ ...peer, change }));
    federation.nameChanged.connect((event) => this.#announce(event));
    for (const registration of this.#storage.list({})) {
      if (registration.name === NAMESERVER_NAME) continue;
      try {
        federation.names.register(registration.name, registration.uri, registration.metadata);
      } catch (error) {
        // Stored before federating, beyond what the cluster carries (a URI over 2,048 characters): kept here only.
        process.emitWarning(`${registration.name} is not published to the cluster: ${error instanceof Error ? error.message : String(error)}`, "PyroFederationWarning");
      }
    }
  }

  /**
   * The federation's heartbeat table: this nameserver first, then every peer with its state
   * (alive, suspect, dead, left), incarnation, when last heard, and whether it leads its
   * beacon domain. Empty when the nameserver does not federate.
   */
  peers(): PeerInfo[] {
    return this.#federation?.peers() ?? [];
  }

  /**
   * Registers a name for a URI; returns the name registered (another one only with `unique`).
   * On a paired nameserver (federation `pair`), a promise of it, settled once the partner holds it.
   */
  register(name: string, uri: string, options: RegisterOptions = {}): string | Promise<string> {
    validateName(name);
    if (name === NAMESERVER_NAME) throw new NamingError(`${NAMESERVER_NAME} is the nameserver's own name`);
    const registration: Registration = { name: options?.unique ? this.#freeName(name) : name, uri: checkedUri(uri), metadata: validateTags(options?.metadata) };
    const names = this.#federation?.names;
    // Checked before storing, so a registration the cluster would refuse is not kept here either.
    if (names) checkRecordUri(registration.uri);
    let stored: void | Promise<void>;
    if (options?.safe || options?.unique) {
      const elsewhere = names?.lookup(registration.name);
      if (elsewhere) throw new NamingError(`${JSON.stringify(registration.name)} is already registered (on nameserver ${elsewhere.origin.slice(0, 8)})`);
      stored = after(this.#storage.putIfAbsent(registration), (done) => {
        if (!done) throw new NamingError(`${JSON.stringify(registration.name)} is already registered`);
      });
    } else {
      stored = this.#storage.put(registration);
    }
    return after(stored, () => {
      // Federated or on a shared store, the signal comes from the replica's or the store's event, as for a change made elsewhere.
      if (!names && !this.#storage.shared) this.registered.emit(registration.name, registration.uri, [...registration.metadata]);
      return settled(names?.register(registration.name, registration.uri, registration.metadata), registration.name);
    });
  }

  /** `name` if no one holds it here or in the cluster, else the first free `name-N` (N from 2). */
  #freeName(name: string): string {
    const taken = (candidate: string): boolean => this.#storage.get(candidate) !== undefined || this.#federation?.names.lookup(candidate) !== undefined;
    if (!taken(name)) return name;
    for (let n = 2; n <= MAX_UNIQUE_SUFFIX; n++) {
      const candidate = validateName(`${name}-${n}`);
      if (!taken(candidate)) return candidate;
    }
    throw new NamingError(`no free name among ${JSON.stringify(name)} and its first ${MAX_UNIQUE_SUFFIX} numbered forms`);
  }

  /** The URI of a name (or `{ uri, metadata }` with `returnMetadata`). */
  lookup(name: string, options: { readonly returnMetadata?: boolean } = {}): string | NameEntry {
    const names = this.#federation?.names;
    if (names && name !== NAMESERVER_NAME) {
      // `name,<origin hex>` reaches one origin's claim, winner or loser; a plain name, the winner.
      const record = typeof name === "string" && parseQualified(name) ? names.lookupQualified(name) : names.lookup(validateName(name));
      if (!record) throw new NamingError(`unknown name ${JSON.stringify(name)}`);
      return options?.returnMetadata ? this.#entry(record) : record.uri!;
    }
    validateName(name);
    const registration = this.#storage.get(name);
    if (!registration) throw new NamingError(`unknown name ${JSON.stringify(name)}`);
    return options?.returnMetadata ? entry(registration, this.#federation?.id ?? this.#storage.shared?.originOf(name)) : registration.uri;
  }

  /** Names matching every given criterion, ordered by name, with their URIs (or entries). */
  list(options: ListOptions = {}): Record<string, string> | Record<string, NameEntry> {
    const query = this.#query(options ?? {});
    const result: Record<string, string | NameEntry> = Object.create(null);
    if (this.#federation) {
      for (const record of this.#clusterList(query)) result[record.name] = options?.returnMetadata ? this.#entry(record) : record.uri!;
      return result as Record<string, string> | Record<string, NameEntry>;
    }
    for (const registration of this.#storage.list(query)) {
      result[registration.name] = options?.returnMetadata ? entry(registration) : registration.uri;
    }
    return result as Record<string, string> | Record<string, NameEntry>;
  }

  /**
   * Names registered on more than one nameserver of the cluster, by name: the winning claim
   * (the earliest; the lowest origin id on a tie), which every nameserver answers, and the
   * others, each reachable by its qualified form. Empty when the nameserver does not federate.
   */
  conflicts(): NameConflict[] {
    const names = this.#federation?.names;
    if (!names) return [];
    const claim = (record: NameRecord): NameClaim => ({ uri: record.uri!, metadata: [...record.metadata], origin: record.origin, qualified: names.qualifiedName(record) });
    return names.conflicts().map(({ name, winner, losers }) => ({ name, winner: claim(winner), losers: losers.map(claim) }));
  }

  /**
   * Removes a name, or every name matching a prefix or regex; returns how many went. Never
   * the nameserver's own. With `ifUri`, a name is removed only while it still maps to that
   * URI, so a daemon shutting down cannot remove the name its replacement registered.
   */
  remove(target: string | RemoveQuery, options: { readonly ifUri?: string } = {}): number | Promise<number> {
    let names: string[];
    if (typeof target === "string") {
      names = [validateName(target)];
      if (options?.ifUri !== undefined && this.#storage.get(target)?.uri !== checkedUri(options.ifUri)) return 0;
      if (options?.ifUri === undefined && !this.#storage.get(target)) this.#refuseForeign(target);
    } else if (target && typeof target === "object" && ("prefix" in target || "regex" in target)) {
      // Pyro removes nothing for an empty prefix; refusing says so instead of emptying the nameserver.
      if ("prefix" in target && !target.prefix) throw new NamingError("remove needs a non-empty prefix");
      names = this.#storage.list(this.#query(target)).map((r) => r.name);
    } else {
      throw new NamingError("remove needs a name, { prefix } or { regex }");
    }
    return after(this.#storage.remove(names.filter((name) => name !== NAMESERVER_NAME)), (removed) => {
      const cluster = this.#federation?.names;
      const acks: Acknowledgement[] = [];
      for (const registration of removed) {
        if (cluster) acks.push(cluster.remove(registration.name));
        else if (!this.#storage.shared) this.removed.emit(registration.name, registration.uri);
      }
      return settled(acks.some(Boolean) ? Promise.all(acks).then(() => {}) : undefined, removed.length);
    });
  }

  setMetadata(name: string, metadata: readonly string[]): void | Promise<void> {
    validateName(name);
    if (name === NAMESERVER_NAME) throw new NamingError(`${NAMESERVER_NAME} is the nameserver's own name`);
    const tags = validateTags(metadata);
    return after(this.#storage.setMetadata(name, tags), (known) => {
      if (!known) {
        this.#refuseForeign(name);
        throw new NamingError(`unknown name ${JSON.stringify(name)}`);
      }
      const names = this.#federation?.names;
      if (names) return names.setMetadata(name, tags);
      if (!this.#storage.shared) this.metadataChanged.emit(name, tags);
    });
  }

  count(): number {
    const names = this.#federation?.names;
    if (!names) return this.#storage.count();
    return names.count() + (this.#storage.get(NAMESERVER_NAME) ? 1 : 0);
  }

  /** This nameserver's own registrations, name to URI, whether or not it federates or shares a store (autoclean checks these). Local only. */
  _ownNames(): Record<string, string> {
    const result: Record<string, string> = Object.create(null);
    const shared = this.#storage.shared;
    for (const registration of this.#storage.list({})) {
      if (!shared || registration.name === NAMESERVER_NAME || shared.originOf(registration.name) === shared.id) result[registration.name] = registration.uri;
    }
    return result;
  }

  ping(): void {}

  /**
   * Whether the names may be out of date: the shared store (etcd) cannot be reached. Lookups
   * still answer from the last view; registrations fail until it is back. Always false for
   * a store of the nameserver's own.
   */
  get stale(): boolean {
    return this.#storage.shared?.stale ?? false;
  }

  /** The cluster's names and our own entry matching a query, ordered by name as the stores order them. */
  #clusterList(query: NameQuery): NameRecord[] {
    const found = this.#federation!.names.list().filter((record) => matches({ name: record.name, uri: record.uri!, metadata: record.metadata }, query));
    const own = this.#storage.get(NAMESERVER_NAME);
    if (own && matches(own, query)) found.push({ origin: this.#federation!.id, version: 0, claim: 0, name: own.name, uri: own.uri, metadata: own.metadata });
    return found.sort((a, b) => compareNames(a.name, b.name));
  }

  #entry(record: NameRecord): NameEntry {
    return { uri: record.uri!, metadata: [...record.metadata], origin: record.origin };
  }

  /** Refuses to change a name another nameserver of the cluster registered: only its origin may. */
  #refuseForeign(name: string): void {
    const record = this.#federation?.names.lookup(name);
    if (record) throw new NamingError(`${JSON.stringify(name)} is registered on nameserver ${record.origin.slice(0, 8)}: only that nameserver can change or remove it`);
  }

  /** Emits the signals of a change in a shared store. */
  #relay(change: StorageChange): void {
    if (change.kind === "resync") return this.resynced.emit();
    const { name, uri, metadata } = change.registration;
    if (change.kind === "registered") this.registered.emit(name, uri, [...metadata]);
    else if (change.kind === "removed") this.removed.emit(name, uri);
    else this.metadataChanged.emit(name, [...metadata]);
  }

  /** Emits the signals of a change in the cluster's names (made here or anywhere). */
  #announce(event: NameEvent): void {
    switch (event.kind) {
      case "registered":
        this.registered.emit(event.name, event.uri, [...event.metadata]);
        break;
      case "removed":
        this.removed.emit(event.name, event.uri);
        break;
      case "metadataChanged":
        this.metadataChanged.emit(event.name, [...event.metadata]);
        break;
      case "conflict":
        // Every nameserver sees the conflict; the one whose registration lost tells its clients.
        if (event.loser === this.#federation?.id) this.conflict.emit(event.name, this.#federation.names.lookup(event.name)?.uri ?? "", event.winner);
        break;
    }
  }

  #query(options: ListOptions | RemoveQuery): NameQuery {
    const o = options as ListOptions;
    if (o.prefix !== undefined && typeof o.prefix !== "string") throw new NamingError("prefix must be a string");
    return {
      ...(o.prefix !== undefined && { prefix: o.prefix }),
      ...(o.regex !== undefined && { regex: compileNameRegex(o.regex) }),
      // An empty tag list is no filter at all, as in Pyro, whatever the store.
      ...(o.metadataAll !== undefined && validateTags(o.metadataAll).length > 0 && { metadataAll: validateTags(o.metadataAll) }),
      ...(o.metadataAny !== undefined && validateTags(o.metadataAny).length > 0 && { metadataAny: validateTags(o.metadataAny) }),
    };
  }
}
