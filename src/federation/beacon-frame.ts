/**
 * The UDP beacon a nameserver broadcasts to announce itself. Pure functions, no I/O.
 *
 * | offset | size   | field       | value                                                     |
 * |--------|--------|-------------|-----------------------------------------------------------|
 * | 0      | 4      | magic       | ASCII "PYTS"                                              |
 * | 4      | 1      | version     | 1                                                         |
 * | 5      | 1      | flags       | 0 (reserved: written as 0, ignored when read)             |
 * | 6      | 2      | port        | u16, the nameserver's TCP (ZeroMQ) port; 0 = leaving      |
 * | 8      | 4      | incarnation | u32                                                       |
 * | 12     | 4      | digest      | u32 hash of its registry digest (0 until replication)     |
 * | 16     | 16     | id          | nameserver id, raw bytes (32 lowercase hex chars in code) |
 * | 32     | 1      | cluster len | 1..64                                                     |
 * | 33     | n      | cluster     | UTF-8, no control characters                              |
 * | 33+n   | 1      | key len     | 0, or 40 when the nameserver is encrypted                 |
 * | 34+n   | 0 / 40 | key         | CURVE public key, Z85 ASCII                               |
 *
 * All integers big-endian. At most 138 bytes, so always within MAX_BEACON_SIZE (255, the
 * zbeacon limit). The sender's host is the datagram's source address: not in the frame.
 *
 * Decoding never throws: a datagram is anyone's, so it answers with a rejection whose
 * kind says why, for the socket to count.
 */
import { ProtocolError } from "../errors.js";
import { isZ85Key } from "../transport/curve.js";
import { isMemberId } from "./member.js";

/** What a nameserver announces in each beacon. */
export interface Beacon {
  /** The federation it belongs to: 1..64 bytes of UTF-8, no control characters. */
  readonly cluster: string;
  /** Nameserver id: 32 lowercase hex characters (16 bytes on the wire). */
  readonly id: string;
  /** The nameserver's TCP port (its ZeroMQ endpoint); 0 announces that it is leaving. */
  readonly port: number;
  /** u32, raised by the nameserver to refute a suspicion. */
  readonly incarnation: number;
  /** u32 hash of its registry digest (0 until replication exists). */
  readonly digest: number;
  /** Its CURVE public key (Z85, 40 characters), when the nameserver is encrypted. */
  readonly key?: string;
}

/** Why a datagram is not a beacon for us. */
export type BeaconRejectionKind = "oversized" | "foreign" | "version" | "malformed";

/**
 * A datagram `decodeBeacon` refused: `oversized` (over MAX_BEACON_SIZE), `foreign` (does not
 * start with the magic), `version` (our magic, another version), `malformed` (anything else).
 */
export interface BeaconRejection {
  readonly rejected: BeaconRejectionKind;
}

/** The four bytes every beacon starts with. */
export const BEACON_MAGIC: Buffer = Buffer.from("PYTS", "ascii");
/** The beacon format this code reads and writes. */
export const BEACON_VERSION = 1;
/** Largest datagram read as a beacon (zbeacon's limit). */
export const MAX_BEACON_SIZE = 255;
/** UDP port beacons are sent to (pizco's). */
export const DEFAULT_BEACON_PORT = 9999;

const MAX_CLUSTER_BYTES = 64;
const KEY_LENGTH = 40;
const ID_BYTES = 16;
const FIXED_SIZE = 32; // magic .. id
// C0, DEL and C1: invisible in logs and never part of a sensible cluster name.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Whether a rejection, not a beacon, came back from `decodeBeacon`. */
export function isBeaconRejection(value: Beacon | BeaconRejection): value is BeaconRejection {
  return "rejected" in value;
}

function isValidCluster(cluster: string, bytes: number): boolean {
  return bytes >= 1 && bytes <= MAX_CLUSTER_BYTES && !CONTROL.test(cluster);
}

/** Whether `cluster` can name a cluster: 1..64 bytes of UTF-8 (no lone surrogates), no control characters. */
export function isClusterName(cluster: unknown): cluster is string {
  if (typeof cluster !== "string") return false;
  const bytes = Buffer.from(cluster, "utf8");
  return bytes.toString("utf8") === cluster && isValidCluster(cluster, bytes.length);
}


function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

/** The datagram announcing `beacon`. Throws ProtocolError, naming the field, if a field is invalid. */
export function encodeBeacon(beacon: Beacon): Buffer {
  const { cluster, id, port, incarnation, digest, key } = beacon;
  // A lone surrogate would silently become U+FFFD: another cluster name than the one asked.
  if (!isClusterName(cluster)) {
    throw new ProtocolError(`beacon cluster ${JSON.stringify(cluster)} must be 1..${MAX_CLUSTER_BYTES} bytes of UTF-8 without control characters`);
  }
  if (!isMemberId(id)) throw new ProtocolError(`beacon id ${JSON.stringify(id)} must be 32 lowercase hex characters`);
  if (!isUint(port, 0xffff)) throw new ProtocolError(`beacon port ${String(port)} must be an integer 0..65535`);
  if (!isUint(incarnation, 0xffffffff)) throw new ProtocolError(`beacon incarnation ${String(incarnation)} must be a u32`);
  if (!isUint(digest, 0xffffffff)) throw new ProtocolError(`beacon digest ${String(digest)} must be a u32`);
  if (key !== undefined && (typeof key !== "string" || !isZ85Key(key))) throw new ProtocolError("beacon key must be a 40-character Z85 CURVE public key");

  const clusterBytes = Buffer.from(cluster, "utf8");
  const keyLength = key === undefined ? 0 : KEY_LENGTH;
  const frame = Buffer.alloc(FIXED_SIZE + 1 + clusterBytes.length + 1 + keyLength);
  BEACON_MAGIC.copy(frame, 0);
  frame[4] = BEACON_VERSION;
  frame[5] = 0;
  frame.writeUInt16BE(port, 6);
  frame.writeUInt32BE(incarnation, 8);
  frame.writeUInt32BE(digest, 12);
  frame.write(id, 16, ID_BYTES, "hex");
  let offset = FIXED_SIZE;
  frame[offset++] = clusterBytes.length;
  offset += clusterBytes.copy(frame, offset);
  frame[offset++] = keyLength;
  if (key !== undefined) frame.write(key, offset, KEY_LENGTH, "ascii");
  return frame;
}

const OVERSIZED: BeaconRejection = Object.freeze({ rejected: "oversized" });
const FOREIGN: BeaconRejection = Object.freeze({ rejected: "foreign" });
const VERSION: BeaconRejection = Object.freeze({ rejected: "version" });
const MALFORMED: BeaconRejection = Object.freeze({ rejected: "malformed" });

/**
 * The beacon in `datagram`, or why it is not one. Never throws, whatever the bytes.
 * Checked in order: size, magic (anything not starting with "PYTS", however short, is
 * foreign), version, then every field; trailing bytes make a datagram malformed.
 */
export function decodeBeacon(datagram: Buffer): Beacon | BeaconRejection {
  if (!Buffer.isBuffer(datagram)) return MALFORMED;
  if (datagram.length > MAX_BEACON_SIZE) return OVERSIZED;
  if (datagram.length < BEACON_MAGIC.length || !datagram.subarray(0, BEACON_MAGIC.length).equals(BEACON_MAGIC)) return FOREIGN;
  if (datagram.length < 5) return MALFORMED;
  if (datagram[4] !== BEACON_VERSION) return VERSION;
  if (datagram.length < FIXED_SIZE + 1) return MALFORMED;

  const clusterLength = datagram[FIXED_SIZE]!;
  const clusterStart = FIXED_SIZE + 1;
  const keyLengthAt = clusterStart + clusterLength;
  if (keyLengthAt >= datagram.length) return MALFORMED;
  const keyLength = datagram[keyLengthAt]!;
  if ((keyLength !== 0 && keyLength !== KEY_LENGTH) || keyLengthAt + 1 + keyLength !== datagram.length) return MALFORMED;

  let cluster: string;
  try {
    cluster = utf8.decode(datagram.subarray(clusterStart, keyLengthAt));
  } catch {
    return MALFORMED;
  }
  if (!isValidCluster(cluster, clusterLength)) return MALFORMED;

  const beacon = {
    cluster,
    id: datagram.toString("hex", 16, 16 + ID_BYTES),
    port: datagram.readUInt16BE(6),
    incarnation: datagram.readUInt32BE(8),
    digest: datagram.readUInt32BE(12),
  };
  if (keyLength === 0) return beacon;
  const key = datagram.toString("latin1", keyLengthAt + 1);
  return isZ85Key(key) ? { ...beacon, key } : MALFORMED;
}
