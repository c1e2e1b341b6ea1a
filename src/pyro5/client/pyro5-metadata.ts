/** What a Pyro5 daemon says an object exposes: in its handshake answer, or from Pyro.Daemon.get_metadata. */
import { DaemonError, ProtocolError } from "../../errors.js";

export interface Pyro5Metadata {
  readonly methods: readonly string[];
  /** Methods called without waiting for a reply (also listed in methods). */
  readonly oneway: readonly string[];
  /** Attributes (Python properties), read with `await proxy.name`, written with `$set`. */
  readonly attrs: readonly string[];
}

function names(value: unknown, field: string, what: string): string[] {
  // Python sends sets: serpent decodes them as Set, json as arrays.
  const list = value instanceof Set ? [...value] : value;
  if (!Array.isArray(list) || !list.every((name): name is string => typeof name === "string")) {
    throw new ProtocolError(`metadata of ${what}: ${field} must be a list of names`);
  }
  return list.sort();
}

/** Checks metadata as a daemon sent it; throws when the object exposes nothing (as Pyro5's proxy does). */
export function checkMetadata(meta: unknown, what: string): Pyro5Metadata {
  if (typeof meta !== "object" || meta === null) throw new ProtocolError(`metadata of ${what} is not a dict`);
  const fields = meta as Record<string, unknown>;
  const metadata = { methods: names(fields.methods, "methods", what), oneway: names(fields.oneway, "oneway", what), attrs: names(fields.attrs, "attrs", what) };
  if (metadata.methods.length === 0 && metadata.attrs.length === 0) throw new DaemonError(`remote object ${what} doesn't expose any methods or attributes`);
  return metadata;
}

/** The metadata in a CONNECTOK's `{"handshake": …, "meta": {…}}`; undefined when the daemon sent none (then ask get_metadata). */
export function metadataOf(answer: unknown, what: string): Pyro5Metadata | undefined {
  if (typeof answer !== "object" || answer === null || !("meta" in answer)) return undefined;
  const meta = (answer as { meta: unknown }).meta;
  if (meta === null || meta === undefined || (typeof meta === "object" && Object.keys(meta).length === 0)) return undefined;
  return checkMetadata(meta, what);
}
