import { expose } from "../../decorators/index.js";
import { NamingError } from "../errors.js";
import { Signal } from "../signal.js";
import { formatUri, parseUri } from "../uri.js";
import { NAMESERVER_NAME, validateName, validateTags } from "../names.js";
import { compileNameRegex } from "./safe-regex.js";
import type { PeerChange, PeerChangeKind, PeerInfo } from "../federation/member.js";
import type { NameQuery, NameStorage, Registration } from "./storage/name-storage.js";

/** A name's URI with its metadata tags. */
export interface NameEntry {
  readonly uri: string;
  readonly metadata: string[];
}

export interface RegisterOptions {
  /** Refuse when the name is already registered (default false: replace it). */
  readonly safe?: boolean;
  readonly metadata?: readonly string[];
}

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

/** What the nameserver shows of its federation: the heartbeat table and its changes. */
export interface FederationView {
  peers(): PeerInfo[];
  readonly peerChanged: { connect(slot: (change: PeerChange) => unknown): unknown };
}

function entry(registration: Registration): NameEntry {
  return { uri: registration.uri, metadata: [...registration.metadata] };
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
 */
@expose
export class NameServer {
  readonly registered = new Signal<[name: string, uri: string, metadata: string[]]>();
  readonly removed = new Signal<[name: string, uri: string]>();
  readonly metadataChanged = new Signal<[name: string, metadata: string[]]>();
  /** A peer nameserver joined, became suspect, dead or left, or was alive again (federation only). */
  readonly peerChanged = new Signal<[peer: PeerEvent]>();
  readonly #storage: NameStorage;
  #federation: FederationView | undefined;

  constructor(storage: NameStorage) {
    this.#storage = storage;
  }

  /** Records the nameserver's own URI under its protected name. Local only: `_` members are never remote. */
  _registerSelf(uri: string): void {
    this.#storage.put({ name: NAMESERVER_NAME, uri: checkedUri(uri), metadata: [] });
  }

  /** Shows a federation's heartbeat table through `peers()` and `peerChanged`. Local only. */
  _federate(federation: FederationView): void {
    this.#federation = federation;
    federation.peerChanged.connect(({ change, peer }) => this.peerChanged.emit({ ...peer, change }));
  }

  /**
   * The federation's heartbeat table: this nameserver first, then every peer with its state
   * (alive, suspect, dead, left), incarnation, when last heard, and whether it leads its
   * beacon domain. Empty when the nameserver does not federate.
   */
  peers(): PeerInfo[] {
    return this.#federation?.peers() ?? [];
  }

  register(name: string, uri: string, options: RegisterOptions = {}): void {
    validateName(name);
    if (name === NAMESERVER_NAME) throw new NamingError(`${NAMESERVER_NAME} is the nameserver's own name`);
    const registration: Registration = { name, uri: checkedUri(uri), metadata: validateTags(options?.metadata) };
    if (options?.safe) {
      if (!this.#storage.putIfAbsent(registration)) throw new NamingError(`${JSON.stringify(name)} is already registered`);
    } else {
      this.#storage.put(registration);
    }
    this.registered.emit(name, registration.uri, [...registration.metadata]);
  }

  /** The URI of a name (or `{ uri, metadata }` with `returnMetadata`). */
  lookup(name: string, options: { readonly returnMetadata?: boolean } = {}): string | NameEntry {
    validateName(name);
    const registration = this.#storage.get(name);
    if (!registration) throw new NamingError(`unknown name ${JSON.stringify(name)}`);
    return options?.returnMetadata ? entry(registration) : registration.uri;
  }

  /** Names matching every given criterion, ordered by name, with their URIs (or entries). */
  list(options: ListOptions = {}): Record<string, string> | Record<string, NameEntry> {
    const registrations = this.#storage.list(this.#query(options ?? {}));
    const result: Record<string, string | NameEntry> = Object.create(null);
    for (const registration of registrations) {
      result[registration.name] = options?.returnMetadata ? entry(registration) : registration.uri;
    }
    return result as Record<string, string> | Record<string, NameEntry>;
  }

  /**
   * Removes a name, or every name matching a prefix or regex; returns how many went. Never
   * the nameserver's own. With `ifUri`, a name is removed only while it still maps to that
   * URI, so a daemon shutting down cannot remove the name its replacement registered.
   */
  remove(target: string | RemoveQuery, options: { readonly ifUri?: string } = {}): number {
    let names: string[];
    if (typeof target === "string") {
      names = [validateName(target)];
      if (options?.ifUri !== undefined && this.#storage.get(target)?.uri !== checkedUri(options.ifUri)) return 0;
    } else if (target && typeof target === "object" && ("prefix" in target || "regex" in target)) {
      // Pyro removes nothing for an empty prefix; refusing says so instead of emptying the nameserver.
      if ("prefix" in target && !target.prefix) throw new NamingError("remove needs a non-empty prefix");
      names = this.#storage.list(this.#query(target)).map((r) => r.name);
    } else {
      throw new NamingError("remove needs a name, { prefix } or { regex }");
    }
    const removed = this.#storage.remove(names.filter((name) => name !== NAMESERVER_NAME));
    for (const registration of removed) this.removed.emit(registration.name, registration.uri);
    return removed.length;
  }

  setMetadata(name: string, metadata: readonly string[]): void {
    validateName(name);
    if (name === NAMESERVER_NAME) throw new NamingError(`${NAMESERVER_NAME} is the nameserver's own name`);
    const tags = validateTags(metadata);
    if (!this.#storage.setMetadata(name, tags)) throw new NamingError(`unknown name ${JSON.stringify(name)}`);
    this.metadataChanged.emit(name, tags);
  }

  count(): number {
    return this.#storage.count();
  }

  ping(): void {}

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
