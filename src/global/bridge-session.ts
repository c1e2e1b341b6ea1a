import type { Etcd3 } from "etcd3";
import { bounded, describeError, isLeaseInvalid, openEtcdClient } from "../etcd/etcd-client.js";
import { EtcdLease } from "../etcd/etcd-lease.js";
import { EtcdWatch } from "../etcd/etcd-watch.js";
import type { BridgedFederation } from "./bridged-federation.js";
import type { GlobalLayout } from "./global-layout.js";
import type { GlobalSpec } from "./global-spec.js";
import { GlobalView, type GlobalChange } from "./global-view.js";
import { remoteEntry, remoteListing } from "./remote-import.js";
import type { BridgeCounters } from "./bridge-stats.js";
import { ClusterWriter } from "./cluster-writer.js";

export interface SessionContext {
  readonly federation: BridgedFederation;
  readonly spec: GlobalSpec;
  readonly cluster: string;
  readonly layout: GlobalLayout;
  readonly counters: BridgeCounters;
  /** Problems worth an operator's eye: etcd unreachable, invalid entries, the writer's key taken. */
  readonly log: (message: string) => void;
}

/** Longest one etcd request (with its retries) may take. */
const WRITE_MS = 2500;
/** Longest connecting (a lease and the listing) may take before it is tried again. */
const OPEN_MS = 5000;
/** The cluster's names are compared with etcd at least this often (a change that made no event, a key someone else touched). */
const RECONCILE_MS = 2000;
const RETRY_MS = 1000;
/** Problems reported one by one, then one in this many. */
const LOG_EVERY = 100;

/**
 * One leadership period of a cluster's bridge to etcd (docs/federation.md, Global
 * discovery): one etcd session (a lease, a watch of the whole namespace), started when this
 * nameserver leads and stopped when it no longer does.
 *
 * - Import: the other clusters' names, from a listing then from the watch, written into
 *   the replica as records of each cluster's remote origin (replica-remote.ts) in a term
 *   (a revision of our own `bridges/<id>` key, above every earlier leader's).
 * - Export: this cluster's own names, kept under `<prefix>/<cluster>/names/` on our lease
 *   while we hold the cluster's `leader` key (ClusterWriter, the fence).
 * - Stop: the names stay on our lease until the next leader has rewritten them under its
 *   own (or the handover bound passed), then the lease is revoked: no gap in etcd.
 */
export class BridgeSession {
  readonly #ctx: SessionContext;
  readonly #view: GlobalView;
  #client: Etcd3 | undefined;
  #lease: EtcdLease | undefined;
  #watch: EtcdWatch<GlobalChange> | undefined;
  #connected = false;
  /** Other clusters' names changed in etcd since they were last imported, by cluster. */
  #dirtyNames = new Map<string, Set<string>>();
  #exportDirty = true;
  #resync = false;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #writer: ClusterWriter | undefined;
  readonly #running: Promise<void>;
  readonly #unsubscribe: () => void;

  constructor(ctx: SessionContext) {
    this.#ctx = ctx;
    this.#view = new GlobalView(ctx.layout, (reason) => this.#problem(`skipped an invalid key or value under ${ctx.layout.prefix}: ${reason}`));
    this.#unsubscribe = ctx.federation.nameChanged.connect(() => this.#dirty());
    ctx.counters.sessions++;
    // Never an unhandled rejection: whatever escapes the loop ends the session, reported.
    this.#running = this.#run().catch((error: unknown) => {
      ctx.counters.failures++;
      ctx.log(`global: the bridge of cluster ${ctx.cluster} stopped: ${describeError(error)}`);
    });
  }

  /** Whether this session holds the cluster's leader key (it writes the cluster's names). */
  get writing(): boolean {
    return this.#writer?.holding === true && !this.#stopped;
  }

  /**
   * Ends the session: no more writes; then, if names were written, waits (up to
   * `handoverMs`) for the next leader to put them under its lease, and revokes ours. Bounded.
   */
  stop(handoverMs: number): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      this.#unsubscribe();
      this.#ctx.federation.bridge((remote) => remote.stopBridging());
      // Still connecting: closing aborts its bounded retries.
      if (!this.#connected) this.#close();
      this.#wake?.();
      await this.#running;
      if (this.#connected && this.#writer?.wrote && handoverMs > 0) await this.#handover(handoverMs);
      await this.#lease?.revoke(2000);
      this.#close();
    })();
    return this.#stopping;
  }

  async #run(): Promise<void> {
    if (!(await this.#connect()) || !(await this.#newTerm()) || !this.#sync()) return;
    let nextReconcile = Date.now() + RECONCILE_MS;
    while (!this.#stopped) {
      try {
        this.#importChanges();
        if (this.#resync || this.#ctx.federation.bridge((remote) => remote.behind) === true) {
          this.#resync = false;
          if (!(await this.#newTerm()) || !this.#sync()) return;
        }
        if (this.#exportDirty) await this.#export();
      } catch (error) {
        this.#ctx.counters.failures++;
        this.#problem(`global: ${describeError(error)}; trying again`);
        this.#exportDirty = true;
        await this.#sleep(RETRY_MS);
        continue;
      }
      // Work that came in while this step ran is done at once; otherwise wait for some, or for the next reconcile.
      if (this.#exportDirty || this.#dirtyNames.size > 0 || this.#resync) continue;
      await this.#sleep(nextReconcile - Date.now());
      if (Date.now() >= nextReconcile) {
        // Periodically, even without an event: a name whose change made no event (a loser), a key someone else touched.
        this.#exportDirty = true;
        nextReconcile = Date.now() + RECONCILE_MS;
      }
    }
  }

  /** A lease and the namespace listed and watched; tried again until it works or the session stops. */
  async #connect(): Promise<boolean> {
    const { spec, layout } = this.#ctx;
    for (let attempt = 0; !this.#stopped; attempt++) {
      const client = await openEtcdClient(spec.endpoints);
      const lease = new EtcdLease(client, spec.leaseTtl, {
        alive: () => {},
        // Our keys went with the lost lease: the leader key is retaken and the names written again under the new one.
        replaced: () => {
          this.#writer?.leaseLost();
          this.#dirty();
        },
      });
      const watch = new EtcdWatch<GlobalChange>(client, layout.range, this.#view, { changes: (changes) => this.#changed(changes), log: (message) => this.#ctx.log(message) });
      [this.#client, this.#lease, this.#watch] = [client, lease, watch];
      try {
        const deadline = Date.now() + OPEN_MS;
        await lease.start(deadline);
        await watch.start(deadline);
        if (this.#stopped) return false;
        this.#connected = true;
        const { federation, cluster, counters, log } = this.#ctx;
        this.#writer = new ClusterWriter({
          client,
          view: this.#view,
          federation,
          layout,
          cluster,
          counters,
          log,
          endpoint: () => this.#endpoint(),
          reached: (revision, deadline) => this.#reached(revision, deadline),
          stopped: () => this.#stopped,
        });
        return true;
      } catch (error) {
        this.#close();
        if (this.#stopped) return false;
        this.#ctx.counters.failures++;
        this.#problem(`global: cannot reach etcd ${spec.endpoints.join(",")} (${describeError(error)}); trying again`);
        await this.#sleep(Math.min(5000, 500 * 2 ** Math.min(attempt, 4)));
      }
    }
    return false;
  }

  /** A new term: a revision of our own key, above every earlier leader's; false when we no longer lead. */
  async #newTerm(): Promise<boolean> {
    const { federation, layout, cluster } = this.#ctx;
    const key = layout.bridgeKey(cluster, federation.id);
    const value = Buffer.from(JSON.stringify({ endpoint: this.#endpoint() }));
    while (!this.#stopped) {
      try {
        const term = await this.#withLease((lease) => bounded("the bridge's term", Date.now() + WRITE_MS, (options) => this.#client!.kv.put({ key, value, lease }, options)));
        const started = federation.bridge((remote) => remote.startTerm(Number(term.header.revision)));
        if (started) this.#ctx.counters.terms++;
        return started === true;
      } catch (error) {
        if (error instanceof RangeError) {
          this.#ctx.log(`global: cannot bridge: ${error.message}`);
          return false;
        }
        this.#ctx.counters.failures++;
        this.#problem(`global: cannot start a term in etcd (${describeError(error)}); trying again`);
        await this.#sleep(RETRY_MS);
      }
    }
    return false;
  }

  /** Takes over every other cluster's names from the view, in the term just started; false when we no longer lead. */
  #sync(): boolean {
    const { federation, layout, cluster } = this.#ctx;
    // The listing reads the view as it is now: every change noted so far is in it.
    this.#dirtyNames.clear();
    const listing = remoteListing(this.#view, layout, cluster, (reason) => this.#invalid(reason));
    const result = federation.bridge((remote, now) => remote.sync(now, listing));
    if (!result?.synced) return false;
    this.#ctx.counters.syncs++;
    if (result.skipped.length > 0) this.#ctx.log(`global: the names of ${result.skipped.length} cluster(s) do not fit in one term (2^20 changes); they wait for the next`);
    return true;
  }

  /** Writes the other clusters' changes since the last step into the replica (one step, so they travel in few pushes). */
  #importChanges(): void {
    if (this.#dirtyNames.size === 0) return;
    const { federation, layout } = this.#ctx;
    const batch = this.#dirtyNames;
    this.#dirtyNames = new Map();
    const outcome = federation.bridge((remote, now) => {
      for (const [cluster, names] of batch) {
        const origin = layout.originOf(cluster);
        for (const name of names) {
          const held = this.#view.names(cluster).get(name);
          const entry = held ? remoteEntry(name, held) : undefined;
          if (entry && "invalid" in entry) this.#invalid(`${cluster}/${entry.invalid}`);
          const done = remote.change(now, origin, name, entry && !("invalid" in entry) ? entry : undefined);
          if (done === "full") return "full";
          if (!done) return "not-leader";
          this.#ctx.counters.imported++;
        }
      }
      return "done";
    });
    // A term used up: the next step starts one and takes everything over again from the view.
    if (outcome === "full") this.#resync = true;
  }

  /** Makes etcd hold this cluster's names, under our lease, while we hold the leader key (ClusterWriter). */
  async #export(): Promise<void> {
    this.#exportDirty = false;
    await this.#withLease(async (lease) => {
      if (await this.#writer!.export(lease)) this.#exportDirty = true;
    });
  }

  /** Runs a write under our current lease; a lease etcd no longer knows is replaced (its keys are rewritten later). */
  async #withLease<T>(write: (lease: string) => Promise<T>): Promise<T> {
    const lease = await this.#lease!.current(Date.now() + WRITE_MS);
    try {
      return await write(lease);
    } catch (error) {
      if (isLeaseInvalid(error)) this.#lease!.refused(lease);
      throw error;
    }
  }

  /** Waits (up to `handoverMs`) until no name of this cluster is on our lease any more: the next leader wrote them under its own. */
  async #handover(handoverMs: number): Promise<void> {
    const deadline = Date.now() + handoverMs;
    const lease = this.#lease?.id;
    const ours = (): boolean => [...this.#view.names(this.#ctx.cluster).values()].some((entry) => entry.lease === lease);
    // With no live member left there is no one to take over: the names go with the cluster.
    const successor = (): boolean => this.#ctx.federation.peers().some((peer) => !peer.self && (peer.state === "alive" || peer.state === "suspect"));
    while (lease !== undefined && ours() && successor() && Date.now() < deadline) await this.#sleep(Math.min(100, deadline - Date.now()));
  }

  /** Waits until the watch has shown `revision` (our write), or `deadline`. */
  async #reached(revision: number, deadline: number): Promise<void> {
    while (this.#view.revision < revision && Date.now() < deadline && !this.#stopped) await this.#sleep(Math.min(50, deadline - Date.now()));
  }

  #changed(changes: readonly GlobalChange[]): void {
    const own = this.#ctx.cluster;
    for (const change of changes) {
      if (change.cluster === own) this.#exportDirty = true;
      else if (change.kind === "name") {
        let names = this.#dirtyNames.get(change.cluster);
        if (!names) this.#dirtyNames.set(change.cluster, (names = new Set()));
        names.add(change.name);
      }
    }
    this.#wake?.();
  }

  #dirty(): void {
    this.#exportDirty = true;
    this.#wake?.();
  }

  /** Sleeps `ms`, or until something changes (a watch event, a name, a stop). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref();
      this.#wake = done;
    });
  }

  #endpoint(): string {
    return this.#ctx.federation.peers().find((peer) => peer.self)?.endpoint ?? "";
  }

  #invalid(reason: string): void {
    this.#ctx.counters.invalid++;
    this.#problem(`global: left out an invalid name of another cluster: ${reason}`);
  }

  #problem(message: string): void {
    const n = ++this.#ctx.counters.problems;
    if (n <= 10 || n % LOG_EVERY === 0) this.#ctx.log(n === 10 ? `${message} (further problems: one in ${LOG_EVERY} is reported)` : message);
  }

  #close(): void {
    this.#watch?.close();
    this.#lease?.close();
    this.#client?.close();
  }
}
