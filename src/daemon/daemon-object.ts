import { expose, isLockable } from "../../decorators/index.js";
import { ProtocolError } from "../errors.js";
import { isLockToken } from "../protocol/message.js";
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

  /**
   * Locks a @lockable object for the calling proxy: `token` (random, chosen by the proxy) on
   * the calling connection; `owner` names the holder in other clients' errors.
   */
  lock(objectId: string, owner: string, token: string): void {
    const peerId = this.#lockable(objectId);
    if (typeof owner !== "string" || owner.length === 0 || owner.length > 200) throw new TypeError("owner must be a string of 1-200 characters");
    if (!isLockToken(token)) throw badToken();
    this.#locks.lock(objectId, peerId, token, owner);
  }

  /** Releases the lock the calling proxy holds with `token`; without one it only fails when someone else holds it. */
  unlock(objectId: string, token?: string): void {
    const peerId = this.#lockable(objectId);
    if (token !== undefined && !isLockToken(token)) throw badToken();
    this.#locks.unlock(objectId, peerId, token);
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

function badToken(): ProtocolError {
  return new ProtocolError("a lock token must be a string of 16-64 characters A-Z a-z 0-9 _ -");
}
