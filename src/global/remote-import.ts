import { validateTags } from "../names.js";
import { checkRecordName, checkRecordUri, isCounter } from "../federation/name-record.js";
import type { RemoteEntry } from "../federation/replica-remote.js";
import type { GlobalLayout } from "./global-layout.js";
import type { GlobalEntry, GlobalView } from "./global-view.js";

/**
 * Another cluster's name as this cluster's replicas carry it, or why it cannot be: a record
 * must pass every peer's checks (checkRecord), stricter than what etcd storage accepts (a
 * URI exactly as formatUri writes it, at most 2,048 characters), or it would be refused
 * whole by every member. Its claim is the key's create revision. Pure.
 */
export function remoteEntry(name: string, entry: GlobalEntry): RemoteEntry | { readonly invalid: string } {
  try {
    checkRecordName(name);
    const uri = checkRecordUri(entry.record.uri);
    if (uri !== entry.record.uri) return { invalid: `${name}: uri ${JSON.stringify(entry.record.uri)} is not formatted (expected ${uri})` };
    const metadata = validateTags(entry.record.metadata);
    if (!isCounter(entry.createRevision)) return { invalid: `${name}: create revision ${entry.createRevision} is no claim` };
    return { name, uri, metadata, claim: entry.createRevision };
  } catch (error) {
    return { invalid: `${name}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * What the leader takes over from etcd: every other cluster's valid names, by the origin
 * they have here. `own` is this cluster (its names are ours, not imported); invalid
 * entries are reported and left out. Pure.
 */
export function remoteListing(view: GlobalView, layout: GlobalLayout, own: string, invalid: (reason: string) => void): Map<string, RemoteEntry[]> {
  const listing = new Map<string, RemoteEntry[]>();
  for (const cluster of view.clusters()) {
    if (cluster === own) continue;
    const entries: RemoteEntry[] = [];
    for (const [name, entry] of view.names(cluster)) {
      const remote = remoteEntry(name, entry);
      if ("invalid" in remote) invalid(`${cluster}/${remote.invalid}`);
      else entries.push(remote);
    }
    listing.set(layout.originOf(cluster), entries);
  }
  return listing;
}
