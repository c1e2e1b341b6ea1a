/** FNV-1a over a string, from `seed`, finished with murmur3's mix so every bit of input reaches every bit of output. */
function hash32(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 64-bit hash of a digest ({ origin: version }), 16 hex characters, whatever the order of
 * its entries (each entry's hash is XORed in). Two replicas with equal hashes skip the
 * digest exchange; a collision only delays their repair until one of them changes or
 * syncs with another peer.
 */
export function digestHash(versions: Readonly<Record<string, number>>): string {
  let lo = 0;
  let hi = 0;
  for (const [origin, version] of Object.entries(versions)) {
    const entry = `${origin}:${version}`;
    lo ^= hash32(entry, 0x811c9dc5);
    hi ^= hash32(entry, 0x9e3779b9);
  }
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}
