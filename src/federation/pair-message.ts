/**
 * The requests the two nameservers of a pair send each other, and their answers. Unlike
 * replica and membership messages (oneway `deliver`), these go to the peer inbox's
 * `request` method and are answered, so the sender knows the partner holds the change.
 *
 * | kind     | sent when                                                   | answered by |
 * |----------|-------------------------------------------------------------|-------------|
 * | confirm  | a change made on a paired nameserver, its partner live       | accepted, once the partner holds it |
 * | handback | the partner is back after this nameserver took its names over | accepted, with the records the partner wrote |
 *
 * A refusal is an answer too (`refused`, with a reason), and changes nothing on the side
 * that refused. Anything a peer sends is checked here first; so is the answer.
 */
import { ProtocolError } from "../errors.js";
import { validateTags } from "../names.js";
import { checkRecord, checkRecordName, checkRecordUri, isCounter, isOriginId, type NameRecord } from "./name-record.js";
import { MAX_PUSH_RECORDS } from "./replica-message.js";

/** Changes of the sender's own origin, to be held by its partner before the sender acknowledges them. */
export interface ConfirmRequest {
  readonly kind: "confirm";
  readonly from: string;
  readonly records: readonly NameRecord[];
}

/**
 * One name the sender took over from its partner while it was down, as it adopted it. `back`:
 * the sender's copy is unchanged since, and goes back to the partner; otherwise the sender
 * changed or removed it meanwhile, and the partner drops its own record of it if that still
 * names the adopted URI.
 */
export interface HandbackEntry {
  readonly name: string;
  readonly uri: string;
  readonly metadata: readonly string[];
  readonly claim: number;
  readonly back: boolean;
}

/** What the sender took over from its partner, handed back now that the partner is live again. */
export interface HandbackRequest {
  readonly kind: "handback";
  readonly from: string;
  readonly entries: readonly HandbackEntry[];
}

export type PairRequest = ConfirmRequest | HandbackRequest;

/** Why a request was refused. */
export type PairRefusal = "malformed" | "not-member" | "not-partner" | "forged";

/** Accepted (with the records the receiver wrote of its own origin, for a handback), or refused. */
export type PairAnswer =
  | { readonly kind: "accepted"; readonly records: readonly NameRecord[] }
  | { readonly kind: "refused"; readonly reason: PairRefusal; readonly detail: string };

/** Most entries in one handback (and records in its answer): a larger takeover is handed back in several. */
export const MAX_HANDBACK = 1000;
const REFUSALS: readonly PairRefusal[] = ["malformed", "not-member", "not-partner", "forged"];
const MAX_DETAIL = 200;

function fail(what: string): never {
  throw new ProtocolError(`pair message refused: ${what}`);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, what: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail(`${what} is not a list`);
  if (value.length > max) fail(`${what} has ${value.length} entries, more than ${max}`);
  return value;
}

/** Runs a NamingError-throwing check, as a ProtocolError naming the field. */
function checked<T>(what: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    return fail(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function records(value: unknown, what: string, max: number): NameRecord[] {
  return list(value, what, max).map((item, i) => checked(`${what}[${i}]`, () => checkRecord(item)));
}

function entry(value: unknown, what: string): HandbackEntry {
  const o = object(value, what);
  const name = checked(`${what}.name`, () => checkRecordName(o.name));
  const uri = checked(`${what}.uri`, () => checkRecordUri(o.uri));
  if (uri !== o.uri) fail(`${what}.uri is not formatted`);
  const given = o.metadata;
  if (!Array.isArray(given)) fail(`${what}.metadata is not a list`);
  const metadata = checked(`${what}.metadata`, () => validateTags(given));
  if (metadata.length !== given.length || metadata.some((tag, i) => tag !== given[i])) fail(`${what}.metadata is not sorted and free of duplicates`);
  if (!isCounter(o.claim)) fail(`${what}.claim is not a positive safe integer`);
  if (typeof o.back !== "boolean") fail(`${what}.back is not a boolean`);
  return { name, uri, metadata, claim: o.claim, back: o.back };
}

/** Validates a request a peer sent; throws ProtocolError saying what is wrong. */
export function parsePairRequest(value: unknown): PairRequest {
  const o = object(value, "request");
  if (!isOriginId(o.from)) fail("from is not 32 lowercase hex characters");
  switch (o.kind) {
    case "confirm":
      return { kind: "confirm", from: o.from, records: records(o.records, "records", MAX_PUSH_RECORDS) };
    case "handback":
      return { kind: "handback", from: o.from, entries: list(o.entries, "entries", MAX_HANDBACK).map((item, i) => entry(item, `entries[${i}]`)) };
    default:
      return fail(`unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`);
  }
}

/** Validates a partner's answer; throws ProtocolError saying what is wrong. */
export function parsePairAnswer(value: unknown): PairAnswer {
  const o = object(value, "answer");
  switch (o.kind) {
    case "accepted":
      return { kind: "accepted", records: records(o.records, "records", MAX_HANDBACK) };
    case "refused":
      if (!REFUSALS.includes(o.reason as PairRefusal)) fail(`reason is not one of ${REFUSALS.join(", ")}`);
      if (typeof o.detail !== "string") fail("detail is not a string");
      return { kind: "refused", reason: o.reason as PairRefusal, detail: o.detail.slice(0, MAX_DETAIL) };
    default:
      return fail(`unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`);
  }
}

/** A refusal, as the receiver answers it. */
export function refusal(reason: PairRefusal, detail: string): PairAnswer {
  return { kind: "refused", reason, detail: detail.slice(0, MAX_DETAIL) };
}
