/**
 * The messages nameservers send each other to replicate their registries, and their
 * validation.
 *
 * | kind    | sent when                                             | answered by |
 * |---------|-------------------------------------------------------|-------------|
 * | push    | a change is new here: made here, or first heard       | —           |
 * | summary | every anti-entropy interval, to one random live peer  | digest (reply: true) if the hashes differ |
 * | digest  | a new link, a member back, or a summary that differs  | records; and our digest (reply: false) when asked |
 * | records | answering a digest: what the other side lacks         | —           |
 *
 * `from` is always the sender's member id. Anything a peer sends is checked here before
 * the replica sees it: a malformed message, or one over a cap, is refused whole.
 */
import { ProtocolError } from "../errors.js";
import { checkRecord, isOriginId, type NameRecord } from "./name-record.js";

/** A change spreading: every replica forwards it once, the first time it gets it. */
export interface PushMessage {
  readonly kind: "push";
  readonly from: string;
  /** Links travelled from the origin (0 from the origin itself). */
  readonly hops: number;
  readonly records: readonly NameRecord[];
}

/** A hash of the sender's digest: the only periodic message of an idle, converged cluster. */
export interface SummaryMessage {
  readonly kind: "summary";
  readonly from: string;
  readonly hash: string;
}

/** For each origin, the version up to which the sender has every change (see RegistryReplica). */
export interface DigestMessage {
  readonly kind: "digest";
  readonly from: string;
  readonly versions: Readonly<Record<string, number>>;
  /** Whether the receiver should send its own digest back, so the exchange repairs both sides. */
  readonly reply: boolean;
}

/**
 * The records carry every record the sender holds of `origin` with a version above `after`
 * up to `through`: a receiver that has every change of that origin up to `after` now has
 * every change up to `through`.
 */
export interface VersionRange {
  readonly origin: string;
  readonly after: number;
  readonly through: number;
}

/**
 * The records carry every record the sender holds of `origin` with a name from `first`
 * (inclusive) to `next` (exclusive; null: to the end). Sent instead of a range to a
 * receiver behind the sender's floor, which may hold names whose tombstones are gone: a
 * live record of it in that span, absent from the part and not newer than `through`, was
 * deleted. The parts in order, from "" to null, leave it with every change up to `through`.
 */
export interface SnapshotPart {
  readonly origin: string;
  /** The sender's complete version of the origin. */
  readonly through: number;
  /** The sender's floor: it pruned every tombstone of the origin up to this version. */
  readonly floor: number;
  readonly first: string;
  readonly next: string | null;
}

/** What the receiver of a digest lacks. */
export interface RecordsMessage {
  readonly kind: "records";
  readonly from: string;
  readonly records: readonly NameRecord[];
  readonly ranges: readonly VersionRange[];
  readonly snapshots: readonly SnapshotPart[];
}

export type ReplicaMessage = PushMessage | SummaryMessage | DigestMessage | RecordsMessage;

/**
 * Most records in one records message. A typical record is about 150 bytes (150 KB for a
 * full message); the largest a name, URI and tags allow is about 11 KB (11 MB), within the
 * default 64 MB message size. Senders also stop a message at RECORDS_BUDGET bytes.
 */
export const MAX_RECORDS = 1000;
/** About how many bytes of records a sender puts in one records message. */
export const RECORDS_BUDGET = 1 << 20;
/** Most records in one push: a push carries the changes of one step, usually one. */
export const MAX_PUSH_RECORDS = 64;
/**
 * Most origins in a digest, and ranges or snapshot parts in one message: four times the
 * 1,000 nameservers FEDERATION.md aims at. A full digest is about 45 bytes an origin.
 */
export const MAX_ORIGINS = 4096;
/** A push travelling further than this is not forwarded: each replica forwards a change once, so only a loop of bugs gets here. */
export const MAX_HOPS = 64;

const HASH = /^[0-9a-f]{16}$/;

function fail(what: string): never {
  throw new ProtocolError(`replica message refused: ${what}`);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

/** A version in a digest or range: 0 (nothing yet) up to the largest safe integer. */
function version(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) fail(`${what} is not an integer from 0 to ${Number.MAX_SAFE_INTEGER}`);
  return value;
}

function origin(value: unknown, what: string): string {
  if (!isOriginId(value)) fail(`${what} is not 32 lowercase hex characters`);
  return value;
}

function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(`${what} is not a list`);
  if (value.length > max) fail(`${what} has ${value.length} entries, more than ${max}`);
  return value;
}

function records(value: unknown, what: string, max: number): NameRecord[] {
  return list(value, what, max).map((item, i) => {
    try {
      return checkRecord(item);
    } catch (error) {
      return fail(`${what}[${i}]: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

function versions(value: unknown): Record<string, number> {
  const o = object(value, "versions");
  const keys = Object.keys(o);
  if (keys.length > MAX_ORIGINS) fail(`versions has ${keys.length} origins, more than ${MAX_ORIGINS}`);
  // Keys are checked as ids before use: no __proto__ or other prototype key gets through.
  const out: Record<string, number> = {};
  for (const key of keys) out[origin(key, "versions key")] = version(o[key], `versions[${key}]`);
  return out;
}

function range(value: unknown, what: string): VersionRange {
  const o = object(value, what);
  const after = version(o.after, `${what}.after`);
  const through = version(o.through, `${what}.through`);
  if (through < after) fail(`${what}.through is below ${what}.after`);
  return { origin: origin(o.origin, `${what}.origin`), after, through };
}

function bound(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length > 256) fail(`${what} is not a string of at most 256 characters`);
  return value;
}

function snapshot(value: unknown, what: string): SnapshotPart {
  const o = object(value, what);
  const first = bound(o.first, `${what}.first`);
  const next = o.next === null ? null : bound(o.next, `${what}.next`);
  if (next !== null && next <= first) fail(`${what}.next is not after ${what}.first`);
  return { origin: origin(o.origin, `${what}.origin`), through: version(o.through, `${what}.through`), floor: version(o.floor, `${what}.floor`), first, next };
}

/** Validates what a peer sent; throws ProtocolError saying what is wrong. */
export function parseReplicaMessage(value: unknown): ReplicaMessage {
  const o = object(value, "message");
  switch (o.kind) {
    case "push": {
      const hops = o.hops;
      if (typeof hops !== "number" || !Number.isInteger(hops) || hops < 0 || hops > MAX_HOPS) fail(`hops is not an integer from 0 to ${MAX_HOPS}`);
      return { kind: "push", from: origin(o.from, "from"), hops, records: records(o.records, "records", MAX_PUSH_RECORDS) };
    }
    case "summary":
      if (typeof o.hash !== "string" || !HASH.test(o.hash)) fail("hash is not 16 lowercase hex characters");
      return { kind: "summary", from: origin(o.from, "from"), hash: o.hash };
    case "digest":
      if (typeof o.reply !== "boolean") fail("reply is not a boolean");
      return { kind: "digest", from: origin(o.from, "from"), versions: versions(o.versions), reply: o.reply };
    case "records":
      return {
        kind: "records",
        from: origin(o.from, "from"),
        records: records(o.records, "records", MAX_RECORDS),
        ranges: list(o.ranges, "ranges", MAX_ORIGINS).map((item, i) => range(item, `ranges[${i}]`)),
        snapshots: list(o.snapshots, "snapshots", MAX_ORIGINS).map((item, i) => snapshot(item, `snapshots[${i}]`)),
      };
    default:
      return fail(`unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`);
  }
}
