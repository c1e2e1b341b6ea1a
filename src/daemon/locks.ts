import { DaemonError, LockedError } from "../errors.js";

interface Lock {
  readonly peerId: string;
  /** The holding proxy's token: other proxies on the same connection are refused too. */
  readonly token: string;
  readonly owner: string;
  readonly since: Date;
}

/**
 * Who holds the lock of each lockable object, by object id. A lock belongs to one proxy:
 * its token on its connection. It goes when the holder unlocks, or when the daemon drops
 * the connection (closed, or silent past the heartbeat timeout).
 */
export class LockTable {
  readonly #locks = new Map<string, Lock>();

  lock(objectId: string, peerId: string, token: string, owner: string): void {
    const held = this.#locks.get(objectId);
    if (held && !holds(held, peerId, token)) throw lockedBy(objectId, held);
    if (!held) this.#locks.set(objectId, { peerId, token, owner, since: new Date() });
  }

  /** Releases the lock held with `token`; without a token (holding none) only checks nobody else holds it. */
  unlock(objectId: string, peerId: string, token: string | undefined): void {
    const held = this.#locks.get(objectId);
    if (!held) return;
    if (token === undefined || !holds(held, peerId, token)) throw lockedBy(objectId, held);
    this.#locks.delete(objectId);
  }

  /**
   * For a call, get or set: throws LockedError unless the object is unlocked and the caller
   * claims no lock, or the caller is the holder (its token on its connection). A token the
   * daemon no longer holds is refused too, so the proxy learns that its lock is gone.
   */
  check(objectId: string, peerId: string, token: string | undefined): void {
    if (token === undefined && this.#locks.size === 0) return;
    const held = this.#locks.get(objectId);
    if (held) {
      if (token === undefined || !holds(held, peerId, token)) throw lockedBy(objectId, held);
    } else if (token !== undefined) {
      throw new LockedError(`${JSON.stringify(objectId)} is not locked by this proxy any more (its connection was dropped, or it was unlocked)`);
    }
  }

  /** For subscriptions, which belong to the connection: refused only while another connection holds the lock. */
  checkConnection(objectId: string, peerId: string): void {
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

function holds(lock: Lock, peerId: string, token: string): boolean {
  return lock.peerId === peerId && lock.token === token;
}

function lockedBy(objectId: string, lock: Lock): LockedError {
  return new LockedError(`${JSON.stringify(objectId)} is locked by ${lock.owner} since ${lock.since.toISOString()}`);
}

export function notLockable(objectId: string): DaemonError {
  return new DaemonError(`${JSON.stringify(objectId)} is not lockable: decorate its class with @lockable`);
}
