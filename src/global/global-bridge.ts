import { NamingError } from "../errors.js";
import { BridgeSession } from "./bridge-session.js";
import type { BridgedFederation } from "./bridged-federation.js";
import { newCounters, type BridgeCounters } from "./bridge-stats.js";
import { GlobalLayout } from "./global-layout.js";
import { checkGlobalCluster, parseGlobalSpec, type GlobalSpec } from "./global-spec.js";

export interface GlobalBridgeOptions {
  /** `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`, or the spec parsed. */
  readonly global: string | GlobalSpec;
  /** The cluster bridged: its names go under `<prefix>/<cluster>/`. */
  readonly cluster: string;
  /**
   * A nameserver starts bridging only once it has been running this long (default 3 s): a
   * newcomer that leads at once (the lowest id) has by then received the cluster's names,
   * so it does not delete from etcd the ones it has not heard of yet.
   */
  readonly settleMs?: number;
  /** How long a leader that stops leading keeps its names in etcd for the next one to take over (default 15 s). */
  readonly handoverMs?: number;
  /** Where problems are reported; default process.emitWarning (PyroGlobalWarning). */
  readonly log?: (message: string) => void;
}

/** What the bridge is doing, and what it did. */
export interface BridgeStats extends BridgeCounters {
  /** Whether this nameserver leads its cluster (and so bridges it, once settled). */
  readonly leading: boolean;
  /** Whether it writes the cluster's names to etcd now (it holds the cluster's leader key). */
  readonly writing: boolean;
}

const DEFAULT_SETTLE_MS = 3000;
const DEFAULT_HANDOVER_MS = 15_000;
/** A nameserver that closes waits this long at most for the next leader to take its names over. */
const CLOSE_HANDOVER_MS = 3000;

/**
 * Global discovery (docs/federation.md): every nameserver started with `--global` runs a
 * bridge, which acts only while this nameserver leads its cluster (the lowest live id):
 * then one etcd session (BridgeSession) writes the cluster's own names into etcd and brings
 * every other cluster's names in, as records of a remote origin per cluster. When another
 * member comes to lead, this one stops and hands over; when this one comes to lead, it
 * takes over. One etcd session per cluster, whatever its size.
 */
export class GlobalBridge {
  readonly spec: GlobalSpec;
  readonly cluster: string;
  readonly #federation: BridgedFederation;
  readonly #layout: GlobalLayout;
  readonly #counters = newCounters();
  readonly #log: (message: string) => void;
  readonly #settleUntil: number;
  readonly #handoverMs: number;
  #session: BridgeSession | undefined;
  readonly #retiring = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;
  readonly #unsubscribe: () => void;

  private constructor(federation: BridgedFederation, spec: GlobalSpec, options: GlobalBridgeOptions) {
    this.#federation = federation;
    this.spec = spec;
    this.cluster = checkGlobalCluster(options.cluster);
    this.#layout = new GlobalLayout(spec.prefix);
    this.#log = options.log ?? ((message) => process.emitWarning(message, "PyroGlobalWarning"));
    this.#settleUntil = Date.now() + (options.settleMs ?? DEFAULT_SETTLE_MS);
    this.#handoverMs = options.handoverMs ?? DEFAULT_HANDOVER_MS;
    this.#unsubscribe = federation.leaderChanged.connect(() => this.#follow());
  }

  /** Starts following the federation's leadership; bridges whenever this nameserver leads. Throws NamingError on a bad spec or cluster. */
  static start(federation: BridgedFederation, options: GlobalBridgeOptions): GlobalBridge {
    const spec = typeof options.global === "string" ? parseGlobalSpec(options.global) : options.global;
    if (spec.endpoints.length === 0) throw new NamingError("global discovery needs at least one etcd endpoint");
    const bridge = new GlobalBridge(federation, spec, options);
    bridge.#follow();
    return bridge;
  }

  get stats(): BridgeStats {
    return { ...this.#counters, leading: this.#leads(), writing: this.#session?.writing ?? false };
  }

  /** Stops bridging: a session hands its names over (3 s at most, after the federation left) and revokes its lease. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#unsubscribe();
      clearTimeout(this.#timer);
      const session = this.#session;
      this.#session = undefined;
      if (session) this.#retire(session, CLOSE_HANDOVER_MS);
      await Promise.all([...this.#retiring]);
    })();
    return this.#closed;
  }

  #leads(): boolean {
    return this.#federation.leader === this.#federation.id;
  }

  /** Starts a session when we lead (once settled), stops it when we no longer do. */
  #follow(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    if (!this.#leads()) {
      const session = this.#session;
      this.#session = undefined;
      if (session) this.#retire(session, this.#handoverMs);
      return;
    }
    if (this.#session) return;
    const wait = this.#settleUntil - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => this.#follow(), wait);
      this.#timer.unref();
      return;
    }
    this.#session = new BridgeSession({ federation: this.#federation, spec: this.spec, cluster: this.cluster, layout: this.#layout, counters: this.#counters, log: this.#log });
  }

  #retire(session: BridgeSession, handoverMs: number): void {
    const stopping = session.stop(handoverMs).catch((error: unknown) => this.#log(`global: stopping the bridge failed: ${error instanceof Error ? error.message : String(error)}`));
    this.#retiring.add(stopping);
    void stopping.finally(() => this.#retiring.delete(stopping));
  }
}
