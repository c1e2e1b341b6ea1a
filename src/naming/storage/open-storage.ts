import { NamingError } from "../../errors.js";
import { parseEtcdSpec } from "../../etcd/etcd-spec.js";
import { EtcdStore } from "./etcd-store.js";
import { FileStore } from "./file-store.js";
import { MemoryStore } from "./memory-store.js";
import type { LocalNameStorage, NameStorage } from "./name-storage.js";
import { SqliteStore } from "./sqlite-store.js";

/** `memory`, `file:<path>`, `sqlite:<path>` or `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`. */
export type StorageSpec = string;

/** etcd's minimum lease TTL, and a generous maximum. */
const ETCD_TTL_RANGE = [2, 3600] as const;

/** Opens a store of this nameserver's own (memory, file, sqlite); throws NamingError for an unknown kind. */
export function openStorage(spec: StorageSpec): LocalNameStorage {
  if (spec === "memory") return new MemoryStore();
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? "" : spec.slice(colon + 1);
  if ((kind === "file" || kind === "sqlite") && path === "") throw new NamingError(`storage ${JSON.stringify(spec)} needs a path: ${kind}:<path>`);
  if (kind === "file") return new FileStore(path);
  if (kind === "sqlite") return new SqliteStore(path);
  if (kind === "etcd") throw new NamingError(`etcd storage is shared and opened asynchronously: use openNameStorage(${JSON.stringify(spec)})`);
  throw new NamingError(`unknown storage ${JSON.stringify(spec)}: use memory, file:<path>, sqlite:<path> or etcd://host:port/prefix`);
}

/**
 * Opens any storage, etcd's too (connected, its namespace listed and watched before this
 * resolves; EtcdUnavailableError when etcd does not answer in time).
 */
export async function openNameStorage(spec: StorageSpec): Promise<NameStorage> {
  if (!spec.startsWith("etcd:")) return openStorage(spec);
  const [location, query] = splitQuery(spec);
  const { endpoints, prefix } = parseEtcdSpec(location);
  return EtcdStore.open({ endpoints, prefix, ...(query !== undefined && { leaseTtl: leaseTtl(query, spec) }) });
}

function splitQuery(spec: string): [string, string | undefined] {
  const mark = spec.indexOf("?");
  return mark < 0 ? [spec, undefined] : [spec.slice(0, mark), spec.slice(mark + 1)];
}

/** The one query parameter an etcd spec takes: `ttl`, the lease TTL in whole seconds. */
function leaseTtl(query: string, spec: string): number {
  const match = /^ttl=(\d{1,5})$/.exec(query);
  const ttl = match ? Number(match[1]) : NaN;
  if (!(ttl >= ETCD_TTL_RANGE[0] && ttl <= ETCD_TTL_RANGE[1])) {
    throw new NamingError(`invalid etcd storage ${JSON.stringify(spec)}: the only option is ?ttl=<seconds>, from ${ETCD_TTL_RANGE[0]} to ${ETCD_TTL_RANGE[1]}`);
  }
  return ttl;
}
