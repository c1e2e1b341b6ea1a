import { DaemonError, LockedError } from "../errors.js";

interface Lock {
  readonly peerId: string;
  readonly owner: string;
  readonly since: Date;
}

/**
 * Who holds the lock of each lockable object, by object id. A lock belongs to a client
 * connection: it goes when the holder unlocks, or when the daemon drops the connection
 * (closed, or silent past the heartbeat timeout).
 */
export class LockTable {
  readonly #locks = new Map<string, Lock>();

  lock(objectId: string, peerId: string, owner: string): void {
    const held = this.#locks.get(objectId);
    if (held && held.peerId !== peerId) throw lockedBy(objectId, held);
    if (!held) this.#locks.set(objectId, { peerId, owner, since: new Date() });
  }

  unlock(objectId: string, peerId: string): void {
    const held = this.#locks.get(objectId);
    if (!held) return;
    if (held.peerId !== peerId) throw lockedBy(objectId, held);
    this.#locks.delete(objectId);
  }

  /** Throws LockedError when another connection holds the object's lock. */
  check(objectId: string, peerId: string): void {
    if (this.#locks.size === 0) return;
    const held = this.#locks.get(objectId);
    if (held && held.peerId !== peerId) throw lockedBy(objectId, held);
  }

  holder(objectId: string): { owner: string; since: Date } | undefined {
    const held = this.#locks.get(objectId);
    return held && { owner: held.owner, since: held.since };
  }

  releasePeer(peerId: string): void {
    for (const [objectId, lock] of this.#locks) if (lock.peerId === peerId) this.#locks.delete(objectId);
  }

  releaseObject(objectId: string): void {
    this.#locks.delete(objectId);
  }
}

function lockedBy(objectId: string, lock: Lock): LockedError {
  return new LockedError(`${JSON.stringify(objectId)} is locked by ${lock.owner} since ${lock.since.toISOString()}`);
}

export function notLockable(objectId: string): DaemonError {
  return new DaemonError(`${JSON.stringify(objectId)} is not lockable: decorate its class with @lockable`);
}
