/**
 * The output of `pyro-ts ns peers --json`, as the federation design plans it: a JSON
 * array of heartbeat-table rows, one per member this nameserver knows, its own included
 * (`self: true`). Parsing is strict so that a change of the format fails loudly here
 * rather than as a puzzling timeout.
 */

export const PEER_STATES = ["alive", "suspect", "dead", "left"] as const;
export type PeerState = (typeof PEER_STATES)[number];

/** A nameserver id: the design does not fix its type, only that ids are ordered ("lowest id leads"). */
export type PeerId = string | number;

export interface PeerRow {
  readonly id: PeerId;
  /** Its ZeroMQ endpoint, as it advertises it. */
  readonly endpoint: string;
  readonly host: string;
  readonly state: PeerState;
  readonly incarnation: number;
  /** When it was last heard from; its form is not checked. */
  readonly lastHeard: unknown;
  readonly leader: boolean;
  readonly self: boolean;
}

const FIELDS = ["id", "endpoint", "host", "state", "incarnation", "lastHeard", "leader", "self"] as const;

function isState(value: unknown): value is PeerState {
  return (PEER_STATES as readonly unknown[]).includes(value);
}

function row(value: unknown, where: string): PeerRow {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${where}: not an object: ${JSON.stringify(value)}`);
  const r = value as Record<string, unknown>;
  const missing = FIELDS.filter((f) => !(f in r));
  if (missing.length) throw new Error(`${where}: missing ${missing.join(", ")} in ${JSON.stringify(value)}`);
  const wrong: (field: string, expected: string) => never = (field, expected) => {
    throw new Error(`${where}: ${field} should be ${expected}, got ${JSON.stringify(r[field])} in ${JSON.stringify(value)}`);
  };
  const { id, endpoint, host, state, incarnation, lastHeard, leader, self } = r;
  if (!(typeof id === "string" && id !== "") && !(typeof id === "number" && Number.isFinite(id))) wrong("id", "a non-empty string or a number");
  if (typeof endpoint !== "string" || endpoint === "") wrong("endpoint", "a non-empty string");
  if (typeof host !== "string") wrong("host", "a string");
  if (!isState(state)) wrong("state", PEER_STATES.join(" | "));
  if (typeof incarnation !== "number" || !Number.isInteger(incarnation) || incarnation < 0) wrong("incarnation", "an integer >= 0");
  if (typeof leader !== "boolean") wrong("leader", "a boolean");
  if (typeof self !== "boolean") wrong("self", "a boolean");
  return { id, endpoint, host, state, incarnation, lastHeard, leader, self };
}

/** Parses the whole stdout of `ns peers --json`; throws, naming `where`, if it is not the planned format. */
export function parsePeerTable(stdout: string, where: string): PeerRow[] {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (error) {
    throw new Error(`${where}: \`ns peers --json\` printed no JSON (${(error as Error).message}): ${JSON.stringify(stdout.slice(0, 2000))}`);
  }
  if (!Array.isArray(data)) throw new Error(`${where}: \`ns peers --json\` should print an array, got ${JSON.stringify(data).slice(0, 2000)}`);
  const rows = data.map((value, i) => row(value, `${where}, row ${i}`));
  const ids = rows.map((r) => r.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw new Error(`${where}: id ${JSON.stringify(twice)} appears twice: ${JSON.stringify(rows)}`);
  return rows;
}

/** The order that picks the leader: numbers numerically, strings by UTF-16 code units (JavaScript's `<`). */
export function compareIds(a: PeerId, b: PeerId): number {
  if (typeof a !== typeof b) throw new Error(`ids of different types cannot be ordered: ${JSON.stringify(a)}, ${JSON.stringify(b)}`);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The lowest of some ids. */
export function lowestId(ids: readonly PeerId[]): PeerId | undefined {
  return [...ids].sort(compareIds)[0];
}
