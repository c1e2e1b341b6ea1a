import type { Etcd3, IRequestOp } from "etcd3";
import { bounded } from "../etcd/etcd-client.js";
import type { BridgedFederation } from "./bridged-federation.js";
import type { BridgeCounters } from "./bridge-stats.js";
import type { GlobalLayout } from "./global-layout.js";
import type { GlobalView } from "./global-view.js";
import { exportPlan, type ExportPlan } from "./lan-export.js";

/** What the writer needs of its session. */
export interface WriterContext {
  readonly client: Etcd3;
  /** The session's view of the namespace (its watch keeps it current). */
  readonly view: GlobalView;
  readonly federation: BridgedFederation;
  readonly layout: GlobalLayout;
  readonly cluster: string;
  readonly counters: BridgeCounters;
  readonly log: (message: string) => void;
  /** This nameserver's `host:port`, written in the leader key. */
  readonly endpoint: () => string;
  /** Waits until the view has shown `revision`, or `deadline`. */
  readonly reached: (revision: number, deadline: number) => Promise<void>;
  readonly stopped: () => boolean;
}

/** Longest one etcd request (with its retries) may take. */
const WRITE_MS = 2500;
/** Operations per transaction: etcd refuses more than 128 by default. */
const OPS_PER_TXN = 64;

/**
 * Writes a cluster's own names into etcd, fenced by the cluster's `leader` key: each write
 * is a transaction that commits only while that key is still the one this writer put, so
 * two nameservers that both think they lead (a partition inside the cluster) never both
 * write. The key is taken when it is free, ours, or held by a member we see live (which
 * therefore no longer leads); from a holder we cannot see (dead, or across a partition) it
 * is taken unless that holder took it from us in this session: then we wait until it is
 * free (its lease ended), so two partitioned leaders do not take turns rewriting the names.
 */
export class ClusterWriter {
  readonly #ctx: WriterContext;
  /** The leader key as we wrote it, while we hold it. */
  #marker: { readonly modRevision: number } | undefined;
  /** Another bridge took the leader key from us: we take it back only once it is free or its holder is a live member. */
  #lostMarker = false;
  #wrote = false;

  constructor(ctx: WriterContext) {
    this.#ctx = ctx;
  }

  /** Whether we hold the leader key (as far as we know). */
  get holding(): boolean {
    return this.#marker !== undefined;
  }

  /** Whether we ever wrote names: a handover is then due before our lease goes. */
  get wrote(): boolean {
    return this.#wrote;
  }

  /** Our lease expired: the leader key went with it. */
  leaseLost(): void {
    this.#marker = undefined;
  }

  /**
   * Makes etcd hold exactly the cluster's own names, under `lease`, if we hold (or may take)
   * the leader key. True when it should run again soon (the key moved under us).
   */
  async export(lease: string): Promise<boolean> {
    const held = await this.#hold(lease);
    if (held !== true) return held === "again";
    const lan = this.#ctx.federation.bridge((remote) => remote.lanRecords());
    if (!lan || this.#ctx.stopped()) return false;
    const plan = exportPlan(lan, this.#ctx.view.names(this.#ctx.cluster), lease);
    if (plan.puts.length === 0 && plan.deletes.length === 0) return false;
    const revision = await this.#write(plan, lease);
    if (revision === undefined) {
      // The leader key moved since we took it: decide again from what the watch brings.
      this.#marker = undefined;
      return true;
    }
    await this.#ctx.reached(revision, Date.now() + WRITE_MS);
    return false;
  }

  /** Whether we hold the leader key, taking it if the rules allow; "again" when a race was lost, false when we yield. */
  async #hold(lease: string): Promise<boolean | "again"> {
    const { federation, layout, cluster, counters, view } = this.#ctx;
    const current = view.marker(cluster);
    if (this.#marker) {
      // Our take not yet shown by the watch, or shown and still there: ours.
      if (view.revision < this.#marker.modRevision || current?.modRevision === this.#marker.modRevision) return true;
      this.#marker = undefined;
      if (current && current.id !== federation.id) {
        this.#lostMarker = true;
        counters.yielded++;
        this.#ctx.log(`global: nameserver ${current.id} (${current.endpoint}) took over writing cluster ${cluster}'s names; this one waits until it leaves`);
      }
    }
    if (current && current.id !== federation.id && current.lease !== lease) {
      const live = federation.peers().some((peer) => peer.id === current.id && !peer.self && (peer.state === "alive" || peer.state === "suspect"));
      if (!live && this.#lostMarker) return false;
    }
    const key = layout.leaderKey(cluster);
    const value = layout.encodeLeader({ id: federation.id, endpoint: this.#ctx.endpoint() });
    const txn = await bounded("the cluster's leader key", Date.now() + WRITE_MS, (options) =>
      this.#ctx.client.kv.txn(
        {
          compare: [current ? { key, target: "Mod", result: "Equal", mod_revision: current.modRevision } : { key, target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key, value, lease } }],
          failure: [],
        },
        options,
      ),
    );
    if (!txn.succeeded) return "again";
    this.#marker = { modRevision: Number(txn.header.revision) };
    this.#lostMarker = false;
    counters.takeovers++;
    await this.#ctx.reached(this.#marker.modRevision, Date.now() + WRITE_MS);
    return true;
  }

  /** Carries out an export plan in transactions fenced by our leader key; the last revision, or undefined when the key moved. */
  async #write(plan: ExportPlan, lease: string): Promise<number | undefined> {
    const { layout, cluster, counters } = this.#ctx;
    const names = layout.cluster(cluster);
    const ops: IRequestOp[] = [
      ...plan.puts.map((record): IRequestOp => ({ request_put: { key: names.keyOf(record.name), value: names.encode(record), lease } })),
      ...plan.deletes.map((name): IRequestOp => ({ request_delete_range: { key: names.keyOf(name) } })),
    ];
    const fence = layout.leaderKey(cluster);
    let revision = 0;
    for (let i = 0; i < ops.length && !this.#ctx.stopped(); i += OPS_PER_TXN) {
      const marker = this.#marker;
      if (!marker) return undefined;
      const txn = await bounded(`the names of cluster ${cluster}`, Date.now() + WRITE_MS, (options) =>
        this.#ctx.client.kv.txn({ compare: [{ key: fence, target: "Mod", result: "Equal", mod_revision: marker.modRevision }], success: ops.slice(i, i + OPS_PER_TXN), failure: [] }, options),
      );
      if (!txn.succeeded) return undefined;
      revision = Number(txn.header.revision);
      this.#wrote = true;
    }
    counters.exported += plan.puts.length;
    counters.deleted += plan.deletes.length;
    return revision;
  }
}
