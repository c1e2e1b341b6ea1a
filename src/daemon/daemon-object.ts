import { expose, isLockable } from "../../decorators/index.js";
import type { ObjectMetadata } from "../protocol/metadata.js";
export { DAEMON_OBJECT_ID } from "../protocol/metadata.js";
import { callContext } from "./call-context.js";
import { notLockable, type LockTable } from "./locks.js";
import type { Registry } from "./registry.js";

/** Served by every daemon: liveness, what it serves, and the shape of each object for proxies. */
@expose
export class DaemonObject {
  readonly #registry: Registry;
  readonly #locks: LockTable;
  readonly #describe: () => string;

  constructor(registry: Registry, locks: LockTable, describe: () => string) {
    this.#registry = registry;
    this.#locks = locks;
    this.#describe = describe;
  }

  ping(): void {}

  info(): string {
    return this.#describe();
  }

  registered(): string[] {
    return this.#registry.ids();
  }

  /** Locks a @lockable object for the calling connection; `owner` names the holder in other clients' errors. */
  lock(objectId: string, owner: string): void {
    const peerId = this.#lockable(objectId);
    if (typeof owner !== "string" || owner.length === 0 || owner.length > 200) throw new TypeError("owner must be a string of 1-200 characters");
    this.#locks.lock(objectId, peerId, owner);
  }

  /** Releases the calling connection's lock of an object. */
  unlock(objectId: string): void {
    this.#locks.unlock(objectId, this.#lockable(objectId));
  }

  /** Who holds an object's lock, if anyone. */
  lockHolder(objectId: string): { owner: string; since: Date } | null {
    this.#lockable(objectId);
    return this.#locks.holder(objectId) ?? null;
  }

  #lockable(objectId: string): string {
    if (typeof objectId !== "string") throw new TypeError("objectId must be a string");
    const peerId = callContext()?.peerId ?? "";
    if (!isLockable(this.#registry.typeOf(objectId))) throw notLockable(objectId);
    return peerId;
  }

  /** The exposed shape of `objectId` (for a session class, of the caller's instance). */
  metadata(objectId: string): ObjectMetadata {
    if (typeof objectId !== "string") throw new TypeError("objectId must be a string");
    return this.#registry.shape(objectId, callContext()?.peerId ?? "").metadata;
  }
}
