/** Etcd name stores opened by a test (closed after it) and what their change signals said. */
import { afterEach } from "vitest";
import { EtcdStore, type EtcdStoreOptions } from "../../src/naming/storage/etcd-store.js";
import type { StorageChange } from "../../src/naming/storage/name-storage.js";

export interface OpenedStore {
  readonly store: EtcdStore;
  /** Every change the store reported, in order. */
  readonly changes: StorageChange[];
  /** What the store logged (lease losses, resyncs, skipped data). */
  readonly logs: string[];
}

export function etcdStores(): { open(options: Omit<EtcdStoreOptions, "log">): Promise<OpenedStore> } {
  const opened: EtcdStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close().catch(() => {})));
  });
  return {
    async open(options) {
      const logs: string[] = [];
      const store = await EtcdStore.open({ ...options, log: (message) => logs.push(message) });
      opened.push(store);
      const changes: StorageChange[] = [];
      store.shared.changes.connect((change) => changes.push(change));
      return { store, changes, logs };
    },
  };
}

/** The names a change list registered (or replaced), removed, in order. */
export const registeredNames = (changes: readonly StorageChange[]): string[] => changes.flatMap((c) => (c.kind === "registered" ? [c.registration.name] : []));
export const removedNames = (changes: readonly StorageChange[]): string[] => changes.flatMap((c) => (c.kind === "removed" ? [c.registration.name] : []));
