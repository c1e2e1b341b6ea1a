/**
 * Origins that stand for another cluster's names, brought into this cluster through etcd
 * by its leader (src/global). One per remote cluster, its id derived from the etcd
 * namespace and the cluster's name, so whichever nameserver leads computes the same one:
 * a new leader continues the origin the last one wrote, and replicas never see a name
 * twice because the bridge moved.
 *
 * An id is 32 hex digits like a member's: 16 from a hash of (namespace, cluster), then 16
 * that check them. Every nameserver tells a remote origin from a member by the check alone,
 * without knowing the clusters; a random member id passes it one time in 2^64.
 */
import { createHash } from "node:crypto";

const ID_TAG = "pyro-ts remote origin\0";
const CHECK_TAG = "pyro-ts remote origin check\0";
/** Classifications kept (ids are few: members and clusters); cleared past this. */
const CACHE_LIMIT = 4096;
const cache = new Map<string, boolean>();

function check(head: string): string {
  return createHash("sha256").update(CHECK_TAG + head).digest("hex").slice(0, 16);
}

/** The origin of cluster `cluster`'s names in the etcd namespace `namespace` (its normalised prefix). */
export function remoteOriginId(namespace: string, cluster: string): string {
  const head = createHash("sha256").update(`${ID_TAG}${namespace}\0${cluster}`).digest("hex").slice(0, 16);
  return head + check(head);
}

/** Whether `id` (already a valid origin id) names another cluster's names rather than a member. */
export function isRemoteOrigin(id: string): boolean {
  let remote = cache.get(id);
  if (remote === undefined) {
    remote = id.length === 32 && check(id.slice(0, 16)) === id.slice(16);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(id, remote);
  }
  return remote;
}
