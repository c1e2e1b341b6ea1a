import type { EtcdRecord } from "../etcd/etcd-layout.js";
import type { EtcdEvent, EtcdKv } from "../etcd/etcd-view.js";
import type { WatchedView } from "../etcd/etcd-watch.js";
import type { GlobalLayout, LeaderValue } from "./global-layout.js";

/** One cluster's name as etcd holds it. */
export interface GlobalEntry {
  readonly record: EtcdRecord;
  /** The revision the key was created at: the claim its name has in the other clusters. */
  readonly createRevision: number;
  readonly modRevision: number;
  /** The lease the key is attached to: its writer's. */
  readonly lease: string;
}

/** A cluster's writer, as its leader key says, with the key's revisions and lease. */
export interface Marker extends LeaderValue {
  readonly lease: string;
  readonly modRevision: number;
}

/** What a step of the view changed: a name of a cluster (`entry` undefined: gone), or a cluster's writer. */
export type GlobalChange =
  | { readonly kind: "name"; readonly cluster: string; readonly name: string; readonly entry: GlobalEntry | undefined }
  | { readonly kind: "leader"; readonly cluster: string; readonly marker: Marker | undefined };

/**
 * The local view of every cluster's names under a global prefix, built from a listing and
 * kept current by watch events (EtcdWatch runs it), pure. Unlike EtcdView it is keyed by
 * cluster then name. A put is reported even when it rewrote the same value (a new leader
 * moving the key to its lease): the bridge decides what that means.
 */
export class GlobalView implements WatchedView<GlobalChange> {
  readonly #layout: GlobalLayout;
  readonly #onSkip: (reason: string) => void;
  #clusters = new Map<string, Map<string, GlobalEntry>>();
  #markers = new Map<string, Marker>();
  #revision = 0;
  #skipped = 0;

  constructor(layout: GlobalLayout, onSkip: (reason: string) => void = () => {}) {
    this.#layout = layout;
    this.#onSkip = onSkip;
  }

  get revision(): number {
    return this.#revision;
  }

  /** Keys or values skipped as invalid so far. */
  get skipped(): number {
    return this.#skipped;
  }

  /** The clusters holding at least one name. */
  clusters(): string[] {
    return [...this.#clusters.keys()].sort();
  }

  names(cluster: string): ReadonlyMap<string, GlobalEntry> {
    return this.#clusters.get(cluster) ?? new Map();
  }

  marker(cluster: string): Marker | undefined {
    return this.#markers.get(cluster);
  }

  /** Replaces the view with a listing taken at `revision`; returns the differences. */
  load(kvs: readonly EtcdKv[], revision: number): GlobalChange[] {
    const before = this.#clusters;
    const markersBefore = this.#markers;
    this.#clusters = new Map();
    this.#markers = new Map();
    for (const kv of kvs) this.#put(kv);
    this.#revision = Math.max(this.#revision, revision);
    const changes: GlobalChange[] = [];
    for (const [cluster, names] of before) {
      for (const [name] of names) if (!this.#clusters.get(cluster)?.has(name)) changes.push({ kind: "name", cluster, name, entry: undefined });
    }
    for (const [cluster, names] of this.#clusters) {
      for (const [name, entry] of names) if (before.get(cluster)?.get(name)?.modRevision !== entry.modRevision) changes.push({ kind: "name", cluster, name, entry });
    }
    for (const cluster of new Set([...markersBefore.keys(), ...this.#markers.keys()])) {
      const marker = this.#markers.get(cluster);
      if (markersBefore.get(cluster)?.modRevision !== marker?.modRevision) changes.push({ kind: "leader", cluster, marker });
    }
    return changes;
  }

  /** Applies one watch response's events in order; events at or below the view's revision were seen already. */
  apply(events: readonly EtcdEvent[]): GlobalChange[] {
    const seen = this.#revision;
    const changes: GlobalChange[] = [];
    for (const event of events) {
      const revision = event.type === "put" ? event.kv.modRevision : event.modRevision;
      if (revision <= seen) continue;
      this.#revision = Math.max(this.#revision, revision);
      const change = event.type === "put" ? this.#put(event.kv) : this.#delete(event.key);
      if (change) changes.push(change);
    }
    return changes;
  }

  #put(kv: EtcdKv): GlobalChange | undefined {
    const key = this.#layout.parse(kv.key);
    if (key.kind === "other") return undefined;
    if (key.kind === "invalid") return this.#skip(key.reason);
    if (key.kind === "leader") {
      const value = this.#layout.decodeLeader(kv.value);
      if (!value) {
        this.#skip(`${key.cluster}: leader key holds no leader`);
        return this.#delete(kv.key);
      }
      const marker: Marker = { ...value, lease: kv.lease, modRevision: kv.modRevision };
      this.#markers.set(key.cluster, marker);
      return { kind: "leader", cluster: key.cluster, marker };
    }
    const record = this.#layout.decodeName(key.cluster, kv.key, kv.value);
    if ("invalid" in record) {
      this.#skip(`${key.cluster}/${record.invalid}`);
      // An unreadable value replaces whatever was there: the name is no longer answerable.
      return this.#delete(kv.key);
    }
    let names = this.#clusters.get(key.cluster);
    if (!names) this.#clusters.set(key.cluster, (names = new Map()));
    const entry: GlobalEntry = { record, createRevision: kv.createRevision, modRevision: kv.modRevision, lease: kv.lease };
    names.set(key.name, entry);
    return { kind: "name", cluster: key.cluster, name: key.name, entry };
  }

  #delete(rawKey: Buffer): GlobalChange | undefined {
    const key = this.#layout.parse(rawKey);
    if (key.kind === "leader") return this.#markers.delete(key.cluster) ? { kind: "leader", cluster: key.cluster, marker: undefined } : undefined;
    if (key.kind !== "name") return undefined;
    const names = this.#clusters.get(key.cluster);
    if (!names?.delete(key.name)) return undefined;
    if (names.size === 0) this.#clusters.delete(key.cluster);
    return { kind: "name", cluster: key.cluster, name: key.name, entry: undefined };
  }

  #skip(reason: string): undefined {
    this.#skipped++;
    this.#onSkip(reason);
    return undefined;
  }
}
