import { EtcdLayout, type EtcdRecord } from "../etcd/etcd-layout.js";
import { normalizePrefix } from "../etcd/etcd-spec.js";
import type { WatchedRange } from "../etcd/etcd-watch.js";
import { isMemberId } from "../federation/member.js";
import { remoteOriginId } from "../federation/remote-origin.js";

/**
 * How clusters share one etcd namespace (global discovery):
 *
 *   <prefix>/<cluster>/names/<name>   →  {"uri":..., "metadata":[...], "origin":"<member id>"}   one per name of the cluster, on its leader's lease
 *   <prefix>/<cluster>/leader         →  {"id":"<member id>", "endpoint":"host:port"}           the bridge that writes the names (the writers' fence)
 *   <prefix>/<cluster>/bridges/<id>   →  {"endpoint":"host:port"}                              written by each leader to get a term (a fresh revision)
 *
 * A cluster's `names/` range is laid out as an etcd storage namespace (EtcdLayout), so
 * `--storage etcd://host:port/<prefix>/<cluster>` reads one cluster's names as they are.
 * Everything read back is checked: what is not one of these is skipped, never trusted.
 */

/** What a key under the prefix is. */
export type GlobalKey =
  | { readonly kind: "name"; readonly cluster: string; readonly name: string }
  | { readonly kind: "leader"; readonly cluster: string }
  | { readonly kind: "other" }
  | { readonly kind: "invalid"; readonly reason: string };

/** A cluster's writer, as its leader key holds it. */
export interface LeaderValue {
  readonly id: string;
  readonly endpoint: string;
}

const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const MAX_MARKER_BYTES = 1024;

export class GlobalLayout {
  /** The normalised prefix (`/labs`). */
  readonly prefix: string;
  /** Every key of every cluster: `<prefix>/` to the key after. */
  readonly range: WatchedRange;
  readonly #clusters = new Map<string, EtcdLayout>();

  constructor(prefix: string) {
    this.prefix = normalizePrefix(prefix);
    const namesKey = Buffer.from(`${this.prefix}/`);
    const namesEnd = Buffer.from(namesKey);
    // The last byte is '/', so adding one never carries.
    namesEnd[namesEnd.length - 1]! += 1;
    this.range = { namesKey, namesEnd };
  }

  /** The layout of one cluster's names (`<prefix>/<cluster>/names/`). */
  cluster(cluster: string): EtcdLayout {
    let layout = this.#clusters.get(cluster);
    if (!layout) {
      layout = new EtcdLayout(`${this.prefix}/${cluster}`);
      // Bounded by the clusters etcd holds under the prefix; a flood of junk keys is not kept.
      if (this.#clusters.size < 4096) this.#clusters.set(cluster, layout);
    }
    return layout;
  }

  /** The origin a cluster's names have in the other clusters (remote-origin.ts). */
  originOf(cluster: string): string {
    return remoteOriginId(this.prefix, cluster);
  }

  leaderKey(cluster: string): Buffer {
    return Buffer.from(`${this.prefix}/${cluster}/leader`);
  }

  bridgeKey(cluster: string, id: string): Buffer {
    return Buffer.from(`${this.prefix}/${cluster}/bridges/${id}`);
  }

  /** What a key under the prefix is. */
  parse(key: Buffer): GlobalKey {
    const head = this.range.namesKey;
    if (key.length <= head.length || !key.subarray(0, head.length).equals(head)) return { kind: "invalid", reason: "key outside the prefix" };
    let rest: string;
    try {
      rest = utf8.decode(key.subarray(head.length));
    } catch {
      return { kind: "invalid", reason: "key is not UTF-8" };
    }
    const slash = rest.indexOf("/");
    const cluster = slash < 0 ? rest : rest.slice(0, slash);
    if (!SEGMENT.test(cluster) || cluster === "." || cluster === "..") return { kind: "other" };
    const tail = slash < 0 ? "" : rest.slice(slash + 1);
    if (tail === "leader") return { kind: "leader", cluster };
    if (!tail.startsWith("names/")) return { kind: "other" };
    const name = this.cluster(cluster).nameOf(key);
    return typeof name === "string" ? { kind: "name", cluster, name } : { kind: "invalid", reason: `${cluster}: ${name.invalid}` };
  }

  /** A name's registration, or why the value holds none. */
  decodeName(cluster: string, key: Buffer, value: Buffer): EtcdRecord | { readonly invalid: string } {
    return this.cluster(cluster).decode(key, value);
  }

  encodeLeader(value: LeaderValue): Buffer {
    return Buffer.from(JSON.stringify({ id: value.id, endpoint: value.endpoint }));
  }

  /** A leader key's value, or undefined when it is none (then no one is taken for the writer). */
  decodeLeader(value: Buffer): LeaderValue | undefined {
    if (value.length > MAX_MARKER_BYTES) return undefined;
    try {
      const parsed: unknown = JSON.parse(utf8.decode(value));
      if (typeof parsed !== "object" || parsed === null) return undefined;
      const { id, endpoint } = parsed as Record<string, unknown>;
      if (!isMemberId(id) || typeof endpoint !== "string" || endpoint.length > 300) return undefined;
      return { id, endpoint };
    } catch {
      return undefined;
    }
  }
}
