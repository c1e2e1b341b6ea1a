import { NamingError } from "../../errors.js";
import { parseEtcdSpecWithTtl } from "../../etcd/etcd-spec.js";
import { EtcdStore } from "./etcd-store.js";
import { FileStore } from "./file-store.js";
import { MemoryStore } from "./memory-store.js";
import type { LocalNameStorage, NameStorage } from "./name-storage.js";
import { SqliteStore } from "./sqlite-store.js";

/** `memory`, `file:<path>`, `sqlite:<path>` or `etcd://host:port[,host:port...]/prefix[?ttl=seconds]`. */
export type StorageSpec = string;

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
  const { endpoints, prefix, leaseTtl } = parseEtcdSpecWithTtl(spec);
  return EtcdStore.open({ endpoints, prefix, ...(leaseTtl !== undefined && { leaseTtl }) });
}
