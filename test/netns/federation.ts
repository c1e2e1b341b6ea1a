/**
 * Federated nameservers on lab hosts, and the checks the federation tests make on their
 * heartbeat tables. Each host runs `pyro-ts nameserver -n <its address> --federate <cluster>`
 * on the default ports (the namespaces are isolated, so every host can use 9090 and the
 * default beacon port); tables are read with `pyro-ts ns peers --json --ns <address>:9090`
 * run on that host.
 */
import type { NodeChild } from "../node-child.js";
import type { LabNetwork } from "./lab-network.js";
import { compareIds, lowestId, parsePeerTable, type PeerId, type PeerRow, type PeerState } from "./peer-table.js";
import type { Outcome } from "./poll.js";

/** The nameserver's default port, used on every host. */
export const NS_PORT = 9090;
/** What `pyro-ts nameserver` prints once it serves. */
const READY = /^nameserver running at /;
/** Exit code of a command-line usage error (cli/output.ts): the command or a flag does not exist. */
const EXIT_USAGE = 2;

/** Each host's heartbeat table, by host name. */
export type Tables = ReadonlyMap<string, readonly PeerRow[]>;

export class Federation {
  readonly nameservers = new Map<string, NodeChild>();

  constructor(readonly lab: LabNetwork) {}

  /** Starts a federated nameserver on each host; resolves once all of them serve. */
  async start(hosts: readonly string[], cluster: string, extraArgs: readonly string[] = []): Promise<void> {
    const started = hosts.map((host) => {
      const child = this.lab.spawn(host, ["nameserver", "-n", this.lab.host(host).address, "--federate", cluster, ...extraArgs]);
      this.nameservers.set(host, child);
      return child;
    });
    // Node starts several processes at once slowly on 2 cores: generous, the clock of the checks starts after.
    await Promise.all(started.map((child) => child.waitForLine((line) => READY.test(line), 15_000, "the nameserver serving")));
  }

  nameserver(host: string): NodeChild {
    const child = this.nameservers.get(host);
    if (!child) throw new Error(`no nameserver was started on ${host}`);
    return child;
  }

  /**
   * `ns peers --json` on `host`: its rows, or why they could not be read (it may not
   * answer yet). A usage error or output in another format fails at once: waiting
   * would not change it.
   */
  async peers(host: string): Promise<PeerRow[] | string> {
    const args = ["ns", "peers", "--json", "--ns", `${this.lab.host(host).address}:${NS_PORT}`];
    const result = await this.lab.execCli(host, args, 5000);
    const command = `${host}: pyro-ts ${args.join(" ")}`;
    if (result.code === EXIT_USAGE) throw new Error(`${command}: usage error: ${result.stderr.trim()}`);
    if (result.code !== 0) {
      const how = result.timedOut ? "timed out" : result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
      return `${command}: ${how}: ${result.stderr.trim().slice(-500)}`;
    }
    return parsePeerTable(result.stdout, command);
  }

  /** The tables of all `hosts`, read at once, or why one of them could not be read. */
  async tables(hosts: readonly string[]): Promise<Tables | string> {
    const read = await Promise.all(hosts.map(async (host) => [host, await this.peers(host)] as const));
    const tables = new Map<string, readonly PeerRow[]>();
    for (const [host, rows] of read) {
      if (typeof rows === "string") return rows;
      tables.set(host, rows);
    }
    return tables;
  }
}

function show(rows: readonly PeerRow[]): string {
  return JSON.stringify(rows.map((r) => ({ id: r.id, endpoint: r.endpoint, state: r.state, incarnation: r.incarnation, leader: r.leader, self: r.self })));
}

/** A host's own row: exactly one with `self: true`, alive, advertising an endpoint on the host's address. */
export function selfRow(lab: LabNetwork, host: string, rows: readonly PeerRow[]): PeerRow | string {
  const own = rows.filter((r) => r.self);
  if (own.length !== 1) return `${host} lists ${own.length} rows with self: true, expected 1: ${show(rows)}`;
  const row = own[0]!;
  if (row.state !== "alive") return `${host}'s own row has state ${row.state}, expected alive: ${show(rows)}`;
  if (!row.endpoint.includes(lab.host(host).address)) return `${host}'s own endpoint ${row.endpoint} does not name its address ${lab.host(host).address}`;
  return row;
}

/** Every host's own row, by host name, or what is wrong. */
export function selfRows(lab: LabNetwork, tables: Tables): Map<string, PeerRow> | string {
  const own = new Map<string, PeerRow>();
  for (const [host, rows] of tables) {
    const row = selfRow(lab, host, rows);
    if (typeof row === "string") return row;
    const clash = [...own].find(([, r]) => r.id === row.id);
    if (clash) return `${host} and ${clash[0]} both have id ${JSON.stringify(row.id)}`;
    own.set(host, row);
  }
  return own;
}

/** The leader a table names: exactly one row with `leader: true`, the lowest id among its alive rows. */
export function leaderOf(host: string, rows: readonly PeerRow[]): PeerId | string {
  const leaders = rows.filter((r) => r.leader);
  if (leaders.length !== 1) return `${host} lists ${leaders.length} leaders, expected 1: ${show(rows)}`;
  const lowest = lowestId(rows.filter((r) => r.state === "alive").map((r) => r.id));
  if (compareIds(leaders[0]!.id, lowest!) !== 0) return `${host}'s leader is ${JSON.stringify(leaders[0]!.id)}, not the lowest alive id ${JSON.stringify(lowest)}: ${show(rows)}`;
  return leaders[0]!.id;
}

/** Whether all tables name the same leader, the lowest alive id of each: that id, or what is wrong. */
export function agreedLeader(tables: Tables): PeerId | string {
  let agreed: { host: string; id: PeerId } | undefined;
  for (const [host, rows] of tables) {
    const id = leaderOf(host, rows);
    if (typeof id === "string") return id;
    if (agreed && agreed.id !== id) return `${agreed.host} follows ${JSON.stringify(agreed.id)} but ${host} follows ${JSON.stringify(id)}`;
    agreed ??= { host, id };
  }
  if (!agreed) throw new Error("no tables to compare");
  return agreed.id;
}

/**
 * Agreement: each host's table lists every other given host alive, with the id and
 * endpoint that host gives itself, and (when `exact`) no one else. Done with each host's
 * own row.
 */
export function allAlive(lab: LabNetwork, tables: Tables, exact = true): Outcome<Map<string, PeerRow>> {
  const own = selfRows(lab, tables);
  if (typeof own === "string") return { waiting: own };
  for (const [viewer, rows] of tables) {
    for (const [subject, self] of own) {
      if (subject === viewer) continue;
      const row = rows.find((r) => r.id === self.id);
      if (!row) return { waiting: `${viewer} does not list ${subject} (${JSON.stringify(self.id)}): ${show(rows)}` };
      if (row.state !== "alive") return { waiting: `${viewer} sees ${subject} as ${row.state}: ${show(rows)}` };
      if (row.endpoint !== self.endpoint) return { waiting: `${viewer} lists ${subject} at ${row.endpoint}, ${subject} says ${self.endpoint}` };
    }
    const known = new Set([...own.values()].map((r) => r.id));
    const stranger = rows.find((r) => !known.has(r.id));
    if (exact && stranger) return { waiting: `${viewer} lists ${JSON.stringify(stranger.id)} (${stranger.endpoint}), which is none of ${[...tables.keys()].join(", ")}: ${show(rows)}` };
  }
  return { done: own };
}

/** Whether every table lists `subject` (a host with id `id`) in `state`: done, or what is wrong. */
export function seenAs(tables: Tables, subject: string, id: PeerId, state: PeerState): Outcome<true> {
  for (const [viewer, rows] of tables) {
    const row = rows.find((r) => r.id === id);
    if (!row) return { waiting: `${viewer} no longer lists ${subject} (${JSON.stringify(id)}) at all; expected it as ${state}: ${show(rows)}` };
    if (row.state !== state) return { waiting: `${viewer} sees ${subject} as ${row.state}, not yet ${state}` };
  }
  return { done: true };
}
