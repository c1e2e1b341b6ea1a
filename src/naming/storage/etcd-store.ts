import { EtcdNamespace, type EtcdNamespaceOptions, type EtcdRecord, type NamespaceChange } from "../../etcd/index.js";
import { NAMESERVER_NAME } from "../../names.js";
import { Signal } from "../../signal.js";
import { MemoryStore } from "./memory-store.js";
import type { NameQuery, NameStorage, Registration, SharedStore, StorageChange } from "./name-storage.js";

export type EtcdStoreOptions = EtcdNamespaceOptions;

/**
 * Registrations shared by every nameserver on one etcd prefix (see src/etcd/). Reads answer
 * from a local copy kept current by etcd's watch, indexed like MemoryStore so prefix, regex
 * and tag queries cost no round trip. Writes resolve once etcd committed them and the local
 * copy shows them, or reject with EtcdUnavailableError (a NamingError) within the write
 * bound. The nameserver's own entry (`pyro-ts.NameServer`) stays here: each has its own.
 * `shared.changes` reports every change to the namespace, whichever nameserver made it.
 */
export class EtcdStore implements NameStorage {
  readonly shared: SharedStore;
  readonly #namespace: EtcdNamespace;
  readonly #local = new MemoryStore();
  readonly #changes = new Signal<[change: StorageChange]>();

  private constructor(namespace: EtcdNamespace) {
    this.#namespace = namespace;
    for (const record of namespace.records()) this.#local.put(registration(record));
    namespace.changes.connect((change) => this.#apply(change));
    const store = this;
    this.shared = {
      changes: this.#changes,
      get stale() {
        return store.#namespace.stale;
      },
      id: namespace.id,
      originOf: (name) => store.originOf(name),
    };
  }

  /** Connects to etcd and loads the namespace under `prefix`; rejects with EtcdUnavailableError when etcd does not answer in time. */
  static async open(options: EtcdStoreOptions): Promise<EtcdStore> {
    return new EtcdStore(await EtcdNamespace.open(options));
  }

  /** This nameserver's id in the namespace: the origin of the names registered through it. */
  get id(): string {
    return this.#namespace.id;
  }

  /** The nameserver that registered a name (its id), if the name is in etcd. */
  originOf(name: string): string | undefined {
    return this.#namespace.get(name)?.origin;
  }

  /** Keys or values under the prefix skipped as no valid registration. */
  get skipped(): number {
    return this.#namespace.skipped;
  }

  get(name: string): Registration | undefined {
    return this.#local.get(name);
  }

  async put(registration: Registration): Promise<void> {
    if (registration.name === NAMESERVER_NAME) return this.#local.put(registration);
    await this.#namespace.put(registration);
  }

  async putIfAbsent(registration: Registration): Promise<boolean> {
    if (registration.name === NAMESERVER_NAME) return this.#local.putIfAbsent(registration);
    return this.#namespace.putIfAbsent(registration);
  }

  async setMetadata(name: string, metadata: readonly string[]): Promise<boolean> {
    if (name === NAMESERVER_NAME) return this.#local.setMetadata(name, metadata);
    return this.#namespace.setMetadata(name, metadata);
  }

  async remove(names: readonly string[]): Promise<Registration[]> {
    const own = names.includes(NAMESERVER_NAME) ? this.#local.remove([NAMESERVER_NAME]) : [];
    const removed = await this.#namespace.remove(names.filter((name) => name !== NAMESERVER_NAME));
    return [...own, ...removed.map(registration)];
  }

  list(query: NameQuery): Registration[] {
    return this.#local.list(query);
  }

  count(): number {
    return this.#local.count();
  }

  /** Stops watching and revokes this nameserver's lease: the names registered through it leave etcd at once. */
  async close(): Promise<void> {
    await this.#namespace.close();
  }

  #apply(change: NamespaceChange): void {
    if (change.kind === "resync") return this.#changes.emit(change);
    const entry = registration(change.record);
    if (change.kind === "removed") this.#local.remove([entry.name]);
    else this.#local.put(entry);
    this.#changes.emit({ kind: change.kind, registration: entry });
  }
}

function registration(record: EtcdRecord): Registration {
  return { name: record.name, uri: record.uri, metadata: record.metadata };
}
