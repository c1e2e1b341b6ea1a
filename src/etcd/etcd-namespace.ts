import { randomBytes } from "node:crypto";
import type { Etcd3 } from "etcd3";
import { EtcdUnavailableError, NamingError } from "../errors.js";
import { Signal } from "../signal.js";
import { describeError, openEtcdClient, pause } from "./etcd-client.js";
import { EtcdLayout, isValidOrigin, type EtcdRecord } from "./etcd-layout.js";
import { EtcdLease } from "./etcd-lease.js";
import { EtcdView, type ViewChange } from "./etcd-view.js";
import { EtcdWatch } from "./etcd-watch.js";
import { createRecord, deleteRecords, putRecord, updateTags, type WriteContext } from "./etcd-writes.js";
import { OwnNames } from "./own-names.js";

export interface EtcdNamespaceOptions {
  /** `host:port` of each etcd member. */
  readonly endpoints: readonly string[];
  /** The key prefix the nameservers of one namespace share (`/labs/physics`). */
  readonly prefix: string;
  /** Seconds a dead nameserver's names outlive it (its lease TTL); default 10, at least 2 (etcd's minimum). */
  readonly leaseTtl?: number;
  /** This nameserver's id: the origin of its registrations. Default: a random one. */
  readonly id?: string;
  /** Longest a write waits for etcd before it fails with EtcdUnavailableError; default 2500 ms. */
  readonly writeTimeoutMs?: number;
  /** Longest opening waits for etcd; default 5000 ms. */
  readonly openTimeoutMs?: number;
  /** Where lease losses, resyncs and invalid data are reported; default process.emitWarning. */
  readonly log?: (message: string) => void;
}

/** A change to the namespace, made through any nameserver; `resync`: the changes just before came from a fresh listing. */
export type NamespaceChange = { readonly kind: "registered" | "metadataChanged" | "removed"; readonly record: EtcdRecord } | { readonly kind: "resync" };

/** A registration as written: the origin is always this nameserver's id. */
export type NewRecord = Omit<EtcdRecord, "origin">;

const DEFAULT_TTL = 10;
/** Invalid keys reported one by one before the rest are only counted. */
const SKIPS_LOGGED = 10;

/**
 * One nameserver's side of a namespace shared through etcd: a local view of every
 * registration under the prefix (reads cost no round trip), kept current by a watch; writes
 * that resolve once etcd committed them and the view shows them; a lease that takes this
 * nameserver's registrations with it when it dies, and is replaced (its names registered
 * again) when it is lost.
 */
export class EtcdNamespace {
  readonly id: string;
  /** Every change, in commit order, including those made here (as the watch brings them back). */
  readonly changes = new Signal<[change: NamespaceChange]>();
  readonly #client: Etcd3;
  readonly #layout: EtcdLayout;
  readonly #view: EtcdView;
  readonly #lease: EtcdLease;
  readonly #watch: EtcdWatch;
  readonly #own: OwnNames;
  readonly #writeTimeoutMs: number;
  readonly #ttl: number;
  readonly #log: (message: string) => void;
  readonly #waiters = new Set<{ revision: number; resolve: () => void }>();
  #closed = false;

  private constructor(client: Etcd3, options: EtcdNamespaceOptions) {
    const ttl = options.leaseTtl ?? DEFAULT_TTL;
    if (!Number.isInteger(ttl) || ttl < 2) throw new NamingError(`etcd lease TTL must be a whole number of seconds, at least 2, not ${ttl}`);
    this.id = options.id ?? randomBytes(8).toString("hex");
    if (!isValidOrigin(this.id)) throw new NamingError(`invalid nameserver id ${JSON.stringify(this.id)} for etcd: 1 to 64 letters, digits, '.', '_' or '-'`);
    this.#client = client;
    this.#ttl = ttl;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 2500;
    this.#log = options.log ?? ((message) => process.emitWarning(message, "PyroEtcdWarning"));
    this.#layout = new EtcdLayout(options.prefix);
    this.#view = new EtcdView(this.#layout, (reason) => this.#skip(reason));
    this.#own = new OwnNames(this.id);
    this.#lease = new EtcdLease(client, ttl, {
      alive: (id, revision) => this.#own.leaseAlive(id, revision),
      replaced: (lost, granted) => void this.#restore(lost, granted),
    });
    this.#watch = new EtcdWatch(client, this.#layout, this.#view, {
      changes: (changes, resync) => this.#changed(changes, resync),
      log: (message) => this.#log(message),
    });
  }

  /** Connects, takes a lease, lists the namespace and starts watching it; EtcdUnavailableError if etcd does not answer in time. */
  static async open(options: EtcdNamespaceOptions): Promise<EtcdNamespace> {
    if (options.endpoints.length === 0) throw new NamingError("etcd storage needs at least one endpoint");
    const client = await openEtcdClient(options.endpoints);
    let namespace: EtcdNamespace | undefined;
    try {
      namespace = new EtcdNamespace(client, options);
      const deadline = Date.now() + (options.openTimeoutMs ?? 5000);
      await namespace.#lease.start(deadline);
      await namespace.#watch.start(deadline);
      return namespace;
    } catch (error) {
      if (namespace) namespace.#stop();
      client.close();
      if (error instanceof EtcdUnavailableError) {
        throw new EtcdUnavailableError(`cannot open etcd storage ${options.endpoints.join(",")}${options.prefix}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** Whether the view may be out of date: the watch is down or etcd has not answered it lately. */
  get stale(): boolean {
    return !this.#watch.current;
  }

  /** Keys or values under the prefix skipped as no valid registration, so far. */
  get skipped(): number {
    return this.#view.skipped;
  }

  get(name: string): EtcdRecord | undefined {
    return this.#view.get(name)?.record;
  }

  records(): EtcdRecord[] {
    return [...this.#view.entries()].map((entry) => entry.record);
  }

  /** Registers or replaces a name, under this nameserver's lease. */
  async put(registration: NewRecord): Promise<void> {
    const deadline = this.#deadline();
    const record = this.#record(registration);
    const revision = await putRecord(this.#context(), record, deadline);
    this.#own.wrote(record, revision, this.#view.revision, this.#view.get(record.name)?.record);
    await this.#reached(revision, deadline);
  }

  /** Registers a name only if no nameserver holds it (atomically); whether it did. */
  async putIfAbsent(registration: NewRecord): Promise<boolean> {
    const deadline = this.#deadline();
    const record = this.#record(registration);
    const revision = await createRecord(this.#context(), record, deadline, this.#view.revision);
    if (revision === undefined) return false;
    this.#own.wrote(record, revision, this.#view.revision, this.#view.get(record.name)?.record);
    await this.#reached(revision, deadline);
    return true;
  }

  /** Replaces a name's tags (whoever registered it); false when it is unknown. */
  async setMetadata(name: string, metadata: readonly string[]): Promise<boolean> {
    const deadline = this.#deadline();
    const result = await updateTags(this.#context(), name, metadata, deadline);
    if (result === undefined) return false;
    if (result !== "unchanged") await this.#reached(result, deadline);
    return true;
  }

  /** Removes names (whoever registered them); the registrations that were there. */
  async remove(names: readonly string[]): Promise<EtcdRecord[]> {
    const deadline = this.#deadline();
    if (names.length === 0) return [];
    const { removed, revision } = await deleteRecords(this.#context(), names, deadline);
    for (const name of names) this.#own.forget(name);
    if (revision > 0) await this.#reached(revision, deadline);
    return removed;
  }

  /** Stops watching and revokes the lease, so this nameserver's names go from etcd at once (bounded). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop();
    await this.#lease.revoke(Math.min(this.#writeTimeoutMs, 2000));
    this.#client.close();
  }

  #stop(): void {
    this.#closed = true;
    this.#watch.close();
    this.#lease.close();
    for (const waiter of this.#waiters) waiter.resolve();
  }

  #deadline(): number {
    if (this.#closed) throw new NamingError("the etcd name storage is closed");
    return Date.now() + this.#writeTimeoutMs;
  }

  /** The record to write; refused (NamingError) if it would not read back as valid, since every view would skip it. */
  #record(registration: NewRecord): EtcdRecord {
    const record = { name: registration.name, uri: registration.uri, metadata: [...registration.metadata], origin: this.id };
    const decoded = this.#layout.decode(this.#layout.keyOf(record.name), this.#layout.encode(record));
    if ("invalid" in decoded) throw new NamingError(`cannot share ${JSON.stringify(record.name)} through etcd: ${decoded.invalid}`);
    return record;
  }

  #context(): WriteContext {
    return { client: this.#client, layout: this.#layout, lease: this.#lease };
  }

  /** Waits (until `deadline`) for the view to show `revision`, so a write is visible here once it resolves. */
  async #reached(revision: number, deadline: number): Promise<void> {
    if (this.#view.revision >= revision || this.#closed) return;
    await new Promise<void>((resolve) => {
      // Committed all the same: past the deadline the write resolves and the view catches up later.
      const timer = setTimeout(() => waiter.resolve(), Math.max(0, deadline - Date.now()));
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      this.#waiters.add(waiter);
    });
  }

  #changed(changes: readonly ViewChange[], resync: boolean): void {
    for (const change of changes) {
      this.#own.observe(change);
      if (change.kind !== "rewritten") this.changes.emit({ kind: change.kind, record: change.record });
    }
    if (resync) this.changes.emit({ kind: "resync" });
    for (const waiter of [...this.#waiters]) if (this.#view.revision >= waiter.revision) waiter.resolve();
  }

  /** Our lease expired on the server: register our names again under the new one; a name someone took meanwhile is theirs. */
  async #restore(lost: string, granted: string): Promise<void> {
    const records = this.#own.toRestore();
    this.#log(
      `etcd lease ${lost} of nameserver ${this.id} expired (etcd unreachable, or this process paused, for over its ${this.#ttl} s TTL): ` +
        `registering its ${plural(records.length, "name")} again under lease ${granted}`,
    );
    let restored = 0;
    for (const record of records) {
      while (!this.#closed && this.#lease.id === granted) {
        try {
          const revision = await createRecord(this.#context(), record, Date.now() + this.#writeTimeoutMs, this.#view.revision);
          if (revision !== undefined) {
            this.#own.wrote(record, revision, this.#view.revision, this.#view.get(record.name)?.record);
            restored++;
          } else if (this.#view.get(record.name)?.record.origin !== this.id) {
            this.#own.forget(record.name);
            this.#log(`${record.name} was registered through another nameserver while the lease was lost: left to it`);
          }
          break;
        } catch (error) {
          if (this.#closed) return;
          if (!(error instanceof EtcdUnavailableError)) {
            this.#log(`cannot register ${record.name} again: ${describeError(error)}`);
            break;
          }
          await pause(500);
        }
      }
    }
    if (!this.#closed && this.#lease.id === granted) this.#log(`nameserver ${this.id} registered ${restored} of its ${plural(records.length, "name")} again under etcd lease ${granted}`);
  }

  #skip(reason: string): void {
    const count = this.#view.skipped;
    if (count <= SKIPS_LOGGED) this.#log(`skipped an invalid registration under ${this.#layout.namesKey.toString()} in etcd: ${reason}`);
    if (count === SKIPS_LOGGED) this.#log(`further invalid registrations in etcd are skipped without a message`);
  }
}

const plural = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`;
