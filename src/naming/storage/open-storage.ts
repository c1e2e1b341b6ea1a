import { NamingError } from "../../errors.js";
import { FileStore } from "./file-store.js";
import { MemoryStore } from "./memory-store.js";
import type { LocalNameStorage } from "./name-storage.js";
import { SqliteStore } from "./sqlite-store.js";

/** `memory`, `file:<path>` or `sqlite:<path>`. */
export type StorageSpec = string;

/** Opens the storage a spec names; throws NamingError for an unknown kind. */
export function openStorage(spec: StorageSpec): LocalNameStorage {
  if (spec === "memory") return new MemoryStore();
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? "" : spec.slice(colon + 1);
  if ((kind === "file" || kind === "sqlite") && path === "") throw new NamingError(`storage ${JSON.stringify(spec)} needs a path: ${kind}:<path>`);
  if (kind === "file") return new FileStore(path);
  if (kind === "sqlite") return new SqliteStore(path);
  throw new NamingError(`unknown storage ${JSON.stringify(spec)}: use memory, file:<path> or sqlite:<path>`);
}
