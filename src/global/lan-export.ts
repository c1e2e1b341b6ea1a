import type { EtcdRecord } from "../etcd/etcd-layout.js";
import type { NameRecord } from "../federation/name-record.js";
import type { GlobalEntry } from "./global-view.js";

/** The writes that make a cluster's keys in etcd what its names are. */
export interface ExportPlan {
  /** Names to write (insert or replace) under the writer's lease. */
  readonly puts: readonly EtcdRecord[];
  /** Names to delete: etcd holds them, the cluster does not. */
  readonly deletes: readonly string[];
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

/**
 * What the leader writes so that etcd holds exactly the cluster's own names (`lan`: for
 * each name, its visible claim of a member origin, never another cluster's) under its own
 * lease `lease`: a key missing, different, or on another lease (the last leader's, or one
 * that expired) is put; a key of a name the cluster no longer holds is deleted. Pure.
 */
export function exportPlan(lan: readonly NameRecord[], written: ReadonlyMap<string, GlobalEntry>, lease: string): ExportPlan {
  const puts: EtcdRecord[] = [];
  const wanted = new Set<string>();
  for (const record of lan) {
    if (record.uri === null) continue;
    wanted.add(record.name);
    const held = written.get(record.name);
    const same = held !== undefined && held.lease === lease && held.record.uri === record.uri && held.record.origin === record.origin && sameTags(held.record.metadata, record.metadata);
    if (!same) puts.push({ name: record.name, uri: record.uri, metadata: [...record.metadata], origin: record.origin });
  }
  const deletes = [...written.keys()].filter((name) => !wanted.has(name)).sort();
  return { puts, deletes };
}
