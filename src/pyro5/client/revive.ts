/**
 * Pyro5 URIs and proxies inside values that came from a Python peer: they travel as
 * "__class__" dicts (PYRO5-WIRE.md §7), and pyro-ts hands them on as what they are.
 */
import { proxyFromDict, uriFromDict, type Pyro5ProxyState } from "../wire/class-dicts.js";

const MAX_DEPTH = 100;
const CLASS_MARK = Buffer.from("__class__");

/** Whether a payload may hold class dicts at all: most do not, and need no walk. */
export function mayHoldClassDicts(payload: Buffer): boolean {
  return payload.includes(CLASS_MARK);
}

/**
 * URI dicts become URI strings, proxy dicts what `proxyOf` makes of them (a Pyro5Remote,
 * connecting on its first call); the rest is left as it is (arrays, sets and objects walked,
 * changed in place; 100 levels deep at most).
 */
export function revive(value: unknown, proxyOf: (state: Pyro5ProxyState) => unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((item) => revive(item, proxyOf, depth + 1));
  if (value instanceof Set) return new Set([...value].map((item) => revive(item, proxyOf, depth + 1)));
  const uri = uriFromDict(value);
  if (uri !== undefined) return uri;
  const proxy = proxyFromDict(value);
  if (proxy !== undefined) return proxyOf(proxy);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = revive(record[key], proxyOf, depth + 1);
  return record;
}
