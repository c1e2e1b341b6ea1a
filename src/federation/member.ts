/**
 * What the heartbeat table holds about one nameserver, as gossiped between peers, and
 * the precedence rule that decides which of two records about one member is newer.
 */

export type MemberState = "alive" | "suspect" | "dead" | "left";

/** Where a member listens and how to reach it: its id, `host:port`, and CURVE key when encrypted. */
export interface Contact {
  /** 32 lowercase hex characters; the lowest alive id of a beacon domain leads it. */
  readonly id: string;
  /** The member's nameserver endpoint, `host:port` (IPv6 hosts in brackets). */
  readonly endpoint: string;
  /** Its CURVE public key (Z85), when its nameserver is encrypted. */
  readonly key?: string;
}

/** One member's state, as peers tell each other. */
export interface MemberRecord extends Contact {
  /** The broadcast domain it beacons in; each domain has its own leader. */
  readonly domain: string;
  /** Raised only by the member itself, to refute a suspicion; higher wins. */
  readonly incarnation: number;
  readonly state: MemberState;
}

/** A row of the heartbeat table, as `peers()` returns it. */
export interface PeerInfo extends MemberRecord {
  /** Host part of the endpoint. */
  readonly host: string;
  /** When this nameserver last heard from the member directly (ms since the epoch), or null. */
  readonly lastHeard: number | null;
  /** Whether the member leads its beacon domain. */
  readonly leader: boolean;
  /** Whether this row is the nameserver answering. */
  readonly self: boolean;
}

/** Whether `id` is a nameserver id: 32 lowercase hex digits (16 random bytes). */
export function isMemberId(id: unknown): id is string {
  return typeof id === "string" && /^[0-9a-f]{32}$/.test(id);
}

/** What happened to a member: it joined, became suspect, dead or left, or was alive again. */
export type PeerChangeKind = "joined" | "suspect" | "dead" | "left" | "alive";

export interface PeerChange {
  readonly change: PeerChangeKind;
  readonly peer: PeerInfo;
}

const RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/**
 * Whether `incoming` replaces `current` (SWIM's rules): a higher incarnation always wins;
 * at the same incarnation a graver state wins (suspect over alive, dead over suspect), so
 * only the member itself, by raising its incarnation, can undo a suspicion or a death.
 */
export function supersedes(incoming: MemberRecord, current: MemberRecord): boolean {
  if (incoming.incarnation !== current.incarnation) return incoming.incarnation > current.incarnation;
  return RANK[incoming.state] > RANK[current.state];
}

/** Whether a member still counts as a member: alive, or suspected but not yet declared dead. */
export function isLive(state: MemberState): boolean {
  return state === "alive" || state === "suspect";
}

/** The host part of `host:port`, without IPv6 brackets. */
export function hostOf(endpoint: string): string {
  const host = endpoint.slice(0, endpoint.lastIndexOf(":"));
  return host.startsWith("[") ? host.slice(1, -1) : host;
}
