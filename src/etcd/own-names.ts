import type { EtcdRecord } from "./etcd-layout.js";
import type { ViewChange } from "./etcd-view.js";

/**
 * The names a nameserver registered itself and still holds: the ones it registers again
 * under a new lease when its old lease was lost. Pure bookkeeping, fed by the writes that
 * committed and by the changes the watch reports.
 *
 * etcd cannot tell a key deleted because its lease expired from one deleted by another
 * nameserver: both are a delete event. So a deleted own name waits as "deleted at revision
 * R, attached to lease L" until either L is confirmed alive at a revision >= R (the removal
 * was explicit: forget it) or our lease is confirmed lost (it expired with the lease:
 * register it again).
 */
export class OwnNames {
  readonly #id: string;
  readonly #names = new Map<string, EtcdRecord>();
  /** Own names seen deleted, with the revision of the delete and the key's lease, not yet explained. */
  readonly #deleted = new Map<string, { readonly revision: number; readonly lease: string }>();

  constructor(id: string) {
    this.#id = id;
  }

  get size(): number {
    return this.#names.size;
  }

  has(name: string): boolean {
    return this.#names.has(name);
  }

  /**
   * Our write of `record` committed at `revision`. `later` is what the view holds when it has
   * already passed that revision (then a later change may have replaced ours).
   */
  wrote(record: EtcdRecord, revision: number, viewRevision: number, later: EtcdRecord | undefined): void {
    if (viewRevision >= revision && later?.origin !== this.#id) return this.forget(record.name);
    this.#names.set(record.name, viewRevision >= revision ? later! : record);
    this.#deleted.delete(record.name);
  }

  /** We removed the name ourselves. */
  forget(name: string): void {
    this.#names.delete(name);
    this.#deleted.delete(name);
  }

  /** A change the watch reported, in revision order. */
  observe(change: ViewChange): void {
    const { name } = change.record;
    if (change.kind === "removed") {
      if (this.#names.has(name)) this.#deleted.set(name, { revision: change.revision, lease: change.lease });
    } else if (change.record.origin !== this.#id) {
      this.forget(name); // another nameserver registered the name since
    } else if (this.#names.has(name)) {
      this.#names.set(name, change.record);
      this.#deleted.delete(name);
    }
  }

  /** etcd confirmed `lease` alive at `revision`: deletes of its keys at or below it were explicit removals. */
  leaseAlive(lease: string, revision: number): void {
    for (const [name, deleted] of this.#deleted) if (deleted.lease === lease && deleted.revision <= revision) this.forget(name);
  }

  /** Our lease was lost: every name we still hold, to register again (deletes since are taken as the expiry). */
  toRestore(): EtcdRecord[] {
    this.#deleted.clear();
    return [...this.#names.values()];
  }
}
