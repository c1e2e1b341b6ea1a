/**
 * The messages nameservers send each other over their peer links, and their validation.
 *
 * | kind     | sent when                                   | answered by |
 * |----------|---------------------------------------------|-------------|
 * | pong     | a beacon or static peer names an unknown    | pong (reply: true), then ready |
 * | ready    | our pong was answered: both ways proven     | —           |
 * | ping     | probing a member                            | ack         |
 * | ping-req | a direct ping went unanswered               | ack, forwarded by the helper |
 * | ack      | answering a ping                            | —           |
 * | gossip   | changes to spread (every gossip interval)   | —           |
 * | sync     | a new link: the whole table, both ways      | —           |
 *
 * Every message carries its sender's contact, and ping, ack, ping-req and gossip carry
 * table changes (piggybacked). Anything a peer sends is checked here before the membership
 * state machine sees it: a malformed message is refused whole, with the reason.
 */
import { ProtocolError } from "../errors.js";
import { isZ85Key } from "../transport/curve.js";
import { isClusterName } from "./beacon-frame.js";
import { isMemberId, type Contact, type MemberRecord, type MemberState } from "./member.js";

export interface Pong {
  readonly kind: "pong";
  readonly cluster: string;
  readonly from: MemberRecord;
  /** True when answering a pong: the sender has proven it hears us. */
  readonly reply: boolean;
}
export interface Ready {
  readonly kind: "ready";
  readonly cluster: string;
  readonly from: MemberRecord;
}
export interface Ping {
  readonly kind: "ping";
  readonly from: Contact;
  readonly seq: number;
  readonly updates: readonly MemberRecord[];
}
export interface PingReq {
  readonly kind: "ping-req";
  readonly from: Contact;
  readonly seq: number;
  /** The member to ping on the sender's behalf. */
  readonly target: Contact;
  readonly updates: readonly MemberRecord[];
}
export interface Ack {
  readonly kind: "ack";
  readonly from: Contact;
  readonly seq: number;
  readonly updates: readonly MemberRecord[];
}
export interface Gossip {
  readonly kind: "gossip";
  readonly from: Contact;
  readonly updates: readonly MemberRecord[];
}
export interface Sync {
  readonly kind: "sync";
  readonly from: Contact;
  readonly members: readonly MemberRecord[];
}

export type PeerMessage = Pong | Ready | Ping | PingReq | Ack | Gossip | Sync;

/** Most records a sync may carry: a whole table. */
export const MAX_SYNC_RECORDS = 20_000;
/** Most changes piggybacked on one message. */
export const MAX_UPDATES = 256;

const ENDPOINT = /^(?:\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.\-_]{1,253}):(\d{1,5})$/;
const STATES: readonly MemberState[] = ["alive", "suspect", "dead", "left"];
const MAX_U32 = 0xffff_ffff;

export function validEndpoint(endpoint: unknown): endpoint is string {
  if (typeof endpoint !== "string") return false;
  const match = ENDPOINT.exec(endpoint);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65_535;
}

function fail(what: string): never {
  throw new ProtocolError(`peer message refused: ${what}`);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function u32(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_U32) fail(`${what} is not an integer from 0 to ${MAX_U32}`);
  return value;
}

function contact(value: unknown, what: string): Contact {
  const o = object(value, what);
  if (!isMemberId(o.id)) fail(`${what}.id is not 32 hex characters`);
  if (!validEndpoint(o.endpoint)) fail(`${what}.endpoint is not host:port`);
  if (o.key !== undefined && !isZ85Key(o.key)) fail(`${what}.key is not a Z85 public key`);
  return { id: o.id, endpoint: o.endpoint, ...(o.key !== undefined && { key: o.key as string }) };
}

function record(value: unknown, what: string): MemberRecord {
  const o = object(value, what);
  const base = contact(o, what);
  if (typeof o.domain !== "string" || o.domain.length > 256) fail(`${what}.domain is not a string of at most 256 characters`);
  if (!STATES.includes(o.state as MemberState)) fail(`${what}.state is not one of ${STATES.join(", ")}`);
  return { ...base, domain: o.domain, incarnation: u32(o.incarnation, `${what}.incarnation`), state: o.state as MemberState };
}

function records(value: unknown, what: string, max: number): MemberRecord[] {
  if (!Array.isArray(value)) fail(`${what} is not a list`);
  if (value.length > max) fail(`${what} has ${value.length} records, more than ${max}`);
  return value.map((item, i) => record(item, `${what}[${i}]`));
}

/** Validates what a peer sent; throws ProtocolError saying what is wrong. */
export function parsePeerMessage(value: unknown): PeerMessage {
  const o = object(value, "message");
  switch (o.kind) {
    case "pong":
    case "ready": {
      if (!isClusterName(o.cluster)) fail("cluster is not a valid cluster name");
      const from = record(o.from, "from");
      if (o.kind === "ready") return { kind: "ready", cluster: o.cluster, from };
      if (typeof o.reply !== "boolean") fail("reply is not a boolean");
      return { kind: "pong", cluster: o.cluster, from, reply: o.reply };
    }
    case "ping":
    case "ack": {
      const from = contact(o.from, "from");
      return { kind: o.kind, from, seq: u32(o.seq, "seq"), updates: records(o.updates, "updates", MAX_UPDATES) };
    }
    case "ping-req":
      return { kind: "ping-req", from: contact(o.from, "from"), seq: u32(o.seq, "seq"), target: contact(o.target, "target"), updates: records(o.updates, "updates", MAX_UPDATES) };
    case "gossip":
      return { kind: "gossip", from: contact(o.from, "from"), updates: records(o.updates, "updates", MAX_UPDATES) };
    case "sync":
      return { kind: "sync", from: contact(o.from, "from"), members: records(o.members, "members", MAX_SYNC_RECORDS) };
    default:
      return fail(`unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`);
  }
}
