import { NamingError } from "../errors.js";
import { parseEtcdSpecWithTtl } from "../etcd/etcd-spec.js";

/** Where a cluster's leader bridges to: etcd endpoints, the namespace all clusters share, its lease TTL. */
export interface GlobalSpec {
  /** `host:port` of each etcd member. */
  readonly endpoints: readonly string[];
  /** The namespace, normalised (`/labs`): each cluster's names go under `<prefix>/<cluster>/`. */
  readonly prefix: string;
  /** Seconds a dead leader's writes outlive it (its lease): longer than a takeover, so the names never blink out. */
  readonly leaseTtl: number;
}

/** Default lease TTL: above the ~4 s a new leader takes to be elected and write, so a crash leaves no gap in etcd. */
export const DEFAULT_GLOBAL_TTL = 10;
/** A cluster name that is also one etcd key segment (what etcd prefixes allow). */
const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses `etcd://host:port[,host:port...]/prefix[?ttl=seconds]` (as `--storage etcd://...`
 * does; the prefix defaults to /pyro-ts). Throws NamingError saying what is wrong.
 */
export function parseGlobalSpec(spec: string): GlobalSpec {
  if (typeof spec !== "string") throw new NamingError("a global spec is a string etcd://host:port/prefix");
  const { endpoints, prefix, leaseTtl } = parseEtcdSpecWithTtl(spec);
  return { endpoints, prefix, leaseTtl: leaseTtl ?? DEFAULT_GLOBAL_TTL };
}

/** A cluster bridged to etcd names a key segment: letters, digits, '.', '_', '-' (not `.` or `..`); throws NamingError. */
export function checkGlobalCluster(cluster: string): string {
  if (!SEGMENT.test(cluster) || cluster === "." || cluster === "..") {
    throw new NamingError(`cluster ${JSON.stringify(cluster)} cannot be bridged through etcd: its name is a key segment there, 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  return cluster;
}
