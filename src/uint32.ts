/**
 * Big-endian 32-bit integers in byte arrays, for the frame headers and lengths read and written
 * for every message: plain byte access, about half the cost of Buffer's readUInt32BE and
 * writeUInt32BE, which check their arguments each time. The caller has checked the bounds.
 */

export function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** Writes `value` (0 to 2^32-1) at `at`; returns where it ends. */
export function writeUint32(bytes: Uint8Array, value: number, at: number): number {
  bytes[at] = value >>> 24;
  bytes[at + 1] = value >>> 16;
  bytes[at + 2] = value >>> 8;
  bytes[at + 3] = value;
  return at + 4;
}
