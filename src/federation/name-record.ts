/**
 * One registration as nameservers replicate it: owned by the nameserver it was made on
 * (its origin), versioned by that origin's counter, and stamped with a Lamport claim that
 * decides, the same way on every nameserver, which origin wins a name two of them hold.
 * Also the qualified form that reaches a record whatever its standing.
 */
import { NamingError } from "../errors.js";
import { isMemberId } from "./member.js";
import { formatUri, parseUri } from "../uri.js";
import { NAMESERVER_NAME, validateName, validateTags } from "../names.js";

/** A registration (or, with `uri: null`, the tombstone of one) as replicas hold and send it. */
export interface NameRecord {
  /** The nameserver it was made on: the only one that may change it (32 lowercase hex). */
  readonly origin: string;
  /** The origin's counter at this change: one per change, over all its names, never reused. */
  readonly version: number;
  readonly name: string;
  /**
   * Lamport time the origin stamped when it first registered the name (kept while it
   * re-registers or retags it, new after a delete): the earliest claim wins the name.
   */
  readonly claim: number;
  /** A PYRO URI with a location, as formatUri writes it; null for a tombstone (a delete). */
  readonly uri: string | null;
  /** Normalised tags (sorted, no duplicates); empty for a tombstone. */
  readonly metadata: readonly string[];
}

/** Versions and claims are positive safe integers: JSON carries them exactly. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
/** Longest URI a record may carry (object ids stop at 1,024 characters; hosts, ports, keys add little). */
export const MAX_URI_LENGTH = 2048;


/** Whether `value` is a nameserver id: 32 lowercase hex characters. */
export function isOriginId(value: unknown): value is string {
  return isMemberId(value);
}

/** Whether `value` is a version or claim: an integer from 1 to MAX_COUNTER. */
export function isCounter(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

/** A URI a record may carry: PYRO, with a location, exactly as formatUri writes it; throws NamingError. */
export function checkRecordUri(uri: unknown): string {
  if (typeof uri !== "string") throw new NamingError("uri must be a string");
  if (uri.length > MAX_URI_LENGTH) throw new NamingError(`uri is longer than ${MAX_URI_LENGTH} characters`);
  const parsed = parseUri(uri);
  if (parsed.protocol !== "PYRO" || !parsed.location) throw new NamingError(`only PYRO: URIs with a location can be registered, not ${uri}`);
  return formatUri(parsed);
}

/** A name a record may carry: a valid name, and not the nameserver's own (each nameserver keeps its own locally). */
export function checkRecordName(name: unknown): string {
  validateName(name);
  if (name === NAMESERVER_NAME) throw new NamingError(`${NAMESERVER_NAME} is each nameserver's own name and is not replicated`);
  return name as string;
}

/**
 * Checks a record from a peer, field by field; throws NamingError naming the problem.
 * Strict: the URI and tags must already be in the form an origin writes (formatted,
 * normalised), so one change has one encoding on every replica.
 */
export function checkRecord(value: unknown): NameRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new NamingError("record is not an object");
  const o = value as Record<string, unknown>;
  if (!isOriginId(o.origin)) throw new NamingError("origin is not 32 lowercase hex characters");
  if (!isCounter(o.version)) throw new NamingError(`version is not an integer from 1 to ${MAX_COUNTER}`);
  if (!isCounter(o.claim)) throw new NamingError(`claim is not an integer from 1 to ${MAX_COUNTER}`);
  const name = checkRecordName(o.name);
  const given = o.metadata;
  if (!Array.isArray(given)) throw new NamingError("metadata is not a list");
  const metadata = validateTags(given);
  if (metadata.length !== given.length || metadata.some((tag, i) => tag !== given[i])) throw new NamingError("metadata is not sorted and free of duplicates");
  if (o.uri === null) {
    if (metadata.length > 0) throw new NamingError("a tombstone carries no metadata");
    return { origin: o.origin, version: o.version, name, claim: o.claim, uri: null, metadata: [] };
  }
  const uri = checkRecordUri(o.uri);
  if (uri !== o.uri) throw new NamingError(`uri ${JSON.stringify(o.uri)} is not formatted (expected ${uri})`);
  return { origin: o.origin, version: o.version, name, claim: o.claim, uri, metadata };
}

/**
 * The order of claims to one name: the earliest claim first, then the lowest origin id.
 * Both come with the record, so every replica ranks the same records the same way,
 * whatever the order they arrived in and whatever the hosts' clocks say.
 */
export function compareClaims(a: NameRecord, b: NameRecord): number {
  if (a.claim !== b.claim) return a.claim - b.claim;
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0;
}

/**
 * The qualified form of a record: `name,<hex>`, the name then a comma then the first hex
 * digits of its origin (at least MIN_QUALIFIER_DIGITS; more when needed to tell two
 * origins apart). Why a comma: a name may not contain one (validateName), so no valid name
 * is a qualified form; and of the characters a name may not contain it is the only one a
 * PYRONAME URI may, so `PYRONAME:lab.laser,3f9a0c12@host:9090` parses (`#`, `/`, `?`, `\`
 * and whitespace are refused in URIs, and `@` starts the nameserver's `host:port`).
 */
export const QUALIFIER = ",";
/** 8 hex digits (32 bits) tell apart the origins claiming one name with near certainty. */
export const MIN_QUALIFIER_DIGITS = 8;

/** `name,<first digits of origin>`: the qualified form of `name` as held by `origin`. */
export function formatQualified(name: string, origin: string, digits = MIN_QUALIFIER_DIGITS): string {
  return `${name}${QUALIFIER}${origin.slice(0, Math.max(MIN_QUALIFIER_DIGITS, Math.min(digits, origin.length)))}`;
}

/** Splits a qualified form into its name and origin prefix; undefined when `text` is not one. */
export function parseQualified(text: string): { readonly name: string; readonly originPrefix: string } | undefined {
  const at = text.lastIndexOf(QUALIFIER);
  if (at <= 0) return undefined;
  const name = text.slice(0, at);
  const originPrefix = text.slice(at + 1);
  if (!/^[0-9a-f]{8,32}$/.test(originPrefix)) return undefined;
  try {
    checkRecordName(name);
  } catch {
    return undefined;
  }
  return { name, originPrefix };
}
