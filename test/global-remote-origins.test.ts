/**
 * Other clusters' names in a cluster's replicas (src/federation/replica-remote.ts), pure:
 * replicas on a virtual clock, every message through JSON and parseReplicaMessage, the
 * leader played by the test (leaderChanged), etcd played by the listings the leader syncs.
 * Global discovery end to end: test/global-bridge.test.ts and federation-hosts-global.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { NameRecord } from "../src/federation/name-record.js";
import { RegistryReplica, type NameEvent, type ReplicaOutput } from "../src/federation/registry-replica.js";
import { isRemoteOrigin, remoteOriginId } from "../src/federation/remote-origin.js";
import { parseReplicaMessage, type ReplicaMessage } from "../src/federation/replica-message.js";
import { MAX_TERM, TERM_SPAN, type RemoteEntry, type RemoteOrigins } from "../src/federation/replica-remote.js";
import type { ReplicaTiming } from "../src/federation/replica-timing.js";
import { prng } from "./seeded.js";

const idOf = (n: number): string => n.toString(16).padStart(32, "0");
const nodeOf = (id: string): number => parseInt(id, 16);
const TWO = remoteOriginId("/labs", "two");
const TIMING: Partial<ReplicaTiming> = { antiEntropyInterval: 1000, tombstoneTtl: 60_000, originGrace: 30_000, remoteHandover: 10_000 };
const entry = (name: string, claim: number, host = "10.9.0.1"): RemoteEntry => ({ name, uri: `PYRO:${name}@${host}:9100`, metadata: [], claim });

interface Queued {
  readonly from: number;
  readonly to: number;
  readonly json: string;
}

/** Replicas of one cluster, their messages delivered in order (a link per pair), some dropped on demand. */
class Cluster {
  now = 1_000_000;
  readonly nodes = new Map<number, RegistryReplica>();
  readonly events = new Map<number, NameEvent[]>();
  readonly sent: { from: number; to: number; message: ReplicaMessage }[] = [];
  drop: (from: number, to: number, message: ReplicaMessage) => boolean = () => false;
  readonly #queue: Queued[] = [];

  constructor(...ns: number[]) {
    for (const n of ns) {
      this.nodes.set(n, new RegistryReplica({ self: idOf(n), random: prng(n), timing: TIMING }));
      this.events.set(n, []);
    }
    for (const a of ns) for (const b of ns) if (a !== b) this.handle(a, this.node(a).peerUp(this.now, idOf(b)));
    this.lead(Math.min(...ns));
    this.pump();
  }

  node(n: number): RegistryReplica {
    return this.nodes.get(n)!;
  }

  /** Every live node now holds `n` the leader. */
  lead(n: number): void {
    for (const [m, node] of this.nodes) this.handle(m, node.leaderChanged(this.now, idOf(n)));
  }

  /** Node `n` is declared dead on every other node (it stays in the map, silent). */
  kill(n: number): void {
    for (const [m, node] of this.nodes) if (m !== n) this.handle(m, node.peerDown(this.now, idOf(n)));
    this.nodes.delete(n);
  }

  handle(n: number, out: ReplicaOutput): void {
    this.events.get(n)!.push(...out.events);
    for (const { to, message } of out.sends) {
      const target = nodeOf(to);
      this.sent.push({ from: n, to: target, message });
      if (!this.drop(n, target, message)) this.#queue.push({ from: n, to: target, json: JSON.stringify(message) });
    }
  }

  /** Runs a bridge step on the leader `n`. */
  bridge<T>(n: number, step: (remote: RemoteOrigins) => T): T {
    const { result, output } = this.node(n).bridge(step);
    this.handle(n, output);
    return result;
  }

  /** Delivers what is queued (and what that makes), in order. */
  pump(limit = 10_000): void {
    for (let i = 0; i < limit && this.#queue.length > 0; i++) {
      const { to, json } = this.#queue.shift()!;
      const node = this.nodes.get(to);
      if (node) this.handle(to, node.receive(this.now, parseReplicaMessage(JSON.parse(json))));
    }
  }

  run(ms: number, step = 250): void {
    this.pump();
    for (const end = this.now + ms; this.now < end; ) {
      this.now += step;
      for (const [n, node] of this.nodes) this.handle(n, node.tick(this.now));
      this.pump();
    }
  }

  /** What node `n` shows: `name=uri@origin`, origin "two" for the remote one. */
  view(n: number): string[] {
    return show(this.node(n).list());
  }
}

const show = (records: readonly NameRecord[]): string[] => records.map((r) => `${r.name}=${r.uri}@${r.origin === TWO ? "two" : nodeOf(r.origin)}`).sort();
const listing = (...entries: RemoteEntry[]): Map<string, RemoteEntry[]> => new Map([[TWO, entries]]);
const kinds = (events: readonly NameEvent[]): string[] => events.map((e) => `${e.kind} ${e.name}`);

/** Leader `n` starts term `term` and takes over `entries`. */
function takeOver(c: Cluster, n: number, term: number, ...entries: RemoteEntry[]): void {
  const result = c.bridge(n, (remote) => {
    expect(remote.startTerm(term)).toBe(true);
    return remote.sync(c.now, listing(...entries));
  });
  expect(result).toEqual({ synced: true, skipped: [] });
  c.pump();
}

describe("remote origins: ids", () => {
  it("one per cluster and namespace, the same on every nameserver, told from member ids by their check alone", () => {
    expect(remoteOriginId("/labs", "two")).toBe(TWO);
    expect(TWO).toMatch(/^[0-9a-f]{32}$/);
    expect(isRemoteOrigin(TWO)).toBe(true);
    expect(remoteOriginId("/labs", "three")).not.toBe(TWO);
    expect(remoteOriginId("/other", "two")).not.toBe(TWO);
    expect(isRemoteOrigin(idOf(1))).toBe(false);
    const random = prng(7);
    for (let i = 0; i < 1000; i++) {
      const id = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join("");
      expect(isRemoteOrigin(id)).toBe(false);
    }
    // One hex digit changed anywhere breaks the check.
    expect(isRemoteOrigin(`${TWO.slice(0, 31)}${TWO[31] === "0" ? "1" : "0"}`)).toBe(false);
  });
});

describe("remote origins: the leader writes, every member shows, no one else may", () => {
  it("a synced leader's names show on every member with the cluster's origin; a change reaches all at once and is forwarded by none", () => {
    const c = new Cluster(1, 2, 3);
    takeOver(c, 1, 100, entry("two.a", 5), entry("two.b", 6));
    for (const n of [1, 2, 3]) expect(c.view(n), `node ${n}`).toEqual(["two.a=PYRO:two.a@10.9.0.1:9100@two", "two.b=PYRO:two.b@10.9.0.1:9100@two"]);
    expect(kinds(c.events.get(3)!)).toEqual(["registered two.a", "registered two.b"]);
    const [record] = c.node(3).list();
    expect(record!.version).toBe(100 * TERM_SPAN + 1);
    expect(record!.claim).toBe(5);

    c.sent.length = 0;
    c.bridge(1, (remote) => [remote.change(c.now, TWO, "two.b", undefined), remote.change(c.now, TWO, "two.c", entry("two.c", 9))]);
    c.pump();
    for (const n of [1, 2, 3]) expect(c.view(n)).toEqual(["two.a=PYRO:two.a@10.9.0.1:9100@two", "two.c=PYRO:two.c@10.9.0.1:9100@two"]);
    // One push from the leader to each member, carrying both; nobody forwards them.
    const pushes = c.sent.filter((s) => s.message.kind === "push");
    expect(pushes.map((s) => `${s.from}>${s.to}`).sort()).toEqual(["1>2", "1>3"]);
    // A no-op change writes nothing.
    expect(c.bridge(1, (remote) => remote.change(c.now, TWO, "two.a", entry("two.a", 5)))).toBe(true);
    expect(c.node(1).records(TWO).filter((r) => r.name === "two.a")[0]!.version).toBe(100 * TERM_SPAN + 1);
  });

  it("refuses, and counts, records, ranges and snapshots of a remote origin from any member but the leader", () => {
    const c = new Cluster(1, 2, 3);
    takeOver(c, 1, 100, entry("two.a", 5));
    const forged: NameRecord = { origin: TWO, version: 200 * TERM_SPAN + 1, name: "two.evil", claim: 1, uri: "PYRO:evil@10.6.6.6:1", metadata: [] };
    const out = c.node(3).receive(c.now, { kind: "push", from: idOf(2), hops: 0, records: [forged] });
    expect(out.events).toEqual([]);
    c.handle(3, c.node(3).receive(c.now, { kind: "records", from: idOf(2), records: [forged], ranges: [{ origin: TWO, after: 0, through: 300 * TERM_SPAN }], snapshots: [{ origin: TWO, through: 300 * TERM_SPAN, floor: 0, first: "", next: null }] }));
    expect(c.node(3).stats.remoteForged).toBe(4);
    expect(c.view(3)).toEqual(["two.a=PYRO:two.a@10.9.0.1:9100@two"]);
    // The leader refuses another's too: it alone writes them.
    c.node(1).receive(c.now, { kind: "push", from: idOf(2), hops: 0, records: [forged] });
    expect(c.node(1).stats.remoteForged).toBe(1);
    // Members' own records from any member still go through.
    c.handle(2, c.node(2).register(c.now, "one.x", "PYRO:x@10.1.0.2:1"));
    c.pump();
    expect(c.view(3)).toEqual(["one.x=PYRO:x@10.1.0.2:1@2", "two.a=PYRO:two.a@10.9.0.1:9100@two"]);
  });

  it("a member not the leader cannot sync or change: only the leader writes remote records", () => {
    const c = new Cluster(1, 2);
    expect(c.bridge(2, (remote) => remote.startTerm(100))).toBe(false);
    expect(c.bridge(2, (remote) => remote.sync(c.now, listing(entry("two.a", 5))))).toEqual({ synced: false, reason: "not-leader" });
    expect(c.bridge(1, (remote) => remote.change(c.now, TWO, "two.a", entry("two.a", 5)))).toBe(false);
    expect(() => c.bridge(1, (remote) => remote.startTerm(MAX_TERM + 1))).toThrow(RangeError);
    expect(c.view(2)).toEqual([]);
  });
});

describe("remote origins: a new leader takes over", () => {
  it("the names stay shown through the change of leader; the new one rewrites them in a later term: one record each, same origin, nothing resurrected", () => {
    const c = new Cluster(1, 2, 3);
    takeOver(c, 1, 100, entry("two.a", 5), entry("two.b", 6), entry("two.c", 7));
    // The old leader's last change reaches only node 3 before it dies.
    c.drop = (from, to, message) => from === 1 && to === 2 && message.kind === "push";
    c.bridge(1, (remote) => remote.change(c.now, TWO, "two.d", entry("two.d", 8)));
    c.pump();
    expect(c.view(3)).toContain("two.d=PYRO:two.d@10.9.0.1:9100@two");
    expect(c.view(2)).not.toContain("two.d=PYRO:two.d@10.9.0.1:9100@two");
    c.drop = () => false;
    for (const n of [2, 3]) c.events.get(n)!.length = 0;

    c.kill(1);
    c.lead(2);
    c.run(3000);
    // Nobody leads the remote names for 3 s (an election, an etcd session): still shown, nothing removed.
    expect(c.view(3)).toHaveLength(4);
    expect(c.view(2)).toHaveLength(3);
    expect(kinds(c.events.get(3)!)).toEqual([]);

    // Meanwhile in etcd: two.b moved, two.d went. The new leader lists it in a later term.
    takeOver(c, 2, 250, entry("two.a", 5), entry("two.b", 6, "10.9.0.7"), entry("two.c", 7));
    c.run(3000);
    const expected = ["two.a=PYRO:two.a@10.9.0.1:9100@two", "two.b=PYRO:two.b@10.9.0.7:9100@two", "two.c=PYRO:two.c@10.9.0.1:9100@two"];
    for (const n of [2, 3]) {
      expect(c.view(n), `node ${n}`).toEqual(expected);
      expect(c.node(n).conflicts()).toEqual([]);
      // One record per name, all of the one origin, of the new term.
      expect(c.node(n).records(TWO).filter((r) => r.uri !== null).map((r) => r.name)).toEqual(["two.a", "two.b", "two.c"]);
      expect(c.node(n).records(TWO).every((r) => r.version > 250 * TERM_SPAN || r.uri === null)).toBe(true);
    }
    // Node 3 saw the moved name and the dropped one, and nothing else blink.
    expect(kinds(c.events.get(3)!)).toEqual(["registered two.b", "removed two.d"]);
    expect(c.node(2).digestHash()).toBe(c.node(3).digestHash());

    // The dead leader's late push (its old term) is refused: it no longer leads.
    const late: NameRecord = { origin: TWO, version: 100 * TERM_SPAN + 9, name: "two.d", claim: 8, uri: "PYRO:two.d@10.9.0.1:9100", metadata: [] };
    c.node(3).receive(c.now, { kind: "push", from: idOf(1), hops: 0, records: [late] });
    expect(c.view(3)).toEqual(expected);
  });

  it("a member that missed the new leader's snapshot asks for it at the change of leader and gets it", () => {
    const c = new Cluster(1, 2, 3);
    takeOver(c, 1, 100, entry("two.a", 5), entry("two.x", 6));
    c.kill(1);
    // Node 2 leads in its own view and takes over before node 3 agrees: node 3 refuses the snapshot.
    c.handle(2, c.node(2).leaderChanged(c.now, idOf(2)));
    takeOver(c, 2, 300, entry("two.a", 5));
    expect(c.node(3).stats.remoteForged).toBeGreaterThan(0);
    expect(c.view(3)).toContain("two.x=PYRO:two.x@10.9.0.1:9100@two");
    // Then node 3 agrees: it sends the new leader its digest and is answered with the snapshot.
    c.handle(3, c.node(3).leaderChanged(c.now, idOf(2)));
    c.pump();
    expect(c.view(3)).toEqual(["two.a=PYRO:two.a@10.9.0.1:9100@two"]);
    c.run(2000);
    expect(c.node(3).digestHash()).toBe(c.node(2).digestHash());
  });

  it("names no leader takes over within remoteHandover are hidden, and shown again once one does", () => {
    const c = new Cluster(1, 2, 3);
    takeOver(c, 1, 100, entry("two.a", 5));
    c.kill(1);
    c.lead(2);
    c.run(9000);
    expect(c.view(3)).toHaveLength(1);
    c.run(2000);
    for (const n of [2, 3]) expect(c.view(n), `node ${n}`).toEqual([]);
    expect(kinds(c.events.get(3)!)).toEqual(["registered two.a", "removed two.a"]);
    takeOver(c, 2, 400, entry("two.a", 5));
    for (const n of [2, 3]) expect(c.view(n), `node ${n}`).toEqual(["two.a=PYRO:two.a@10.9.0.1:9100@two"]);
    expect(kinds(c.events.get(3)!)).toEqual(["registered two.a", "removed two.a", "registered two.a"]);
  });

  it("a leader whose term is below another leader's (a healed partition) is told it is behind", () => {
    const c = new Cluster(1, 2);
    takeOver(c, 1, 100, entry("two.a", 5));
    expect(c.bridge(1, (remote) => remote.behind)).toBe(false);
    c.handle(1, c.node(1).receive(c.now, { kind: "digest", from: idOf(2), versions: { [TWO]: 100 * TERM_SPAN + 40 }, reply: false }));
    expect(c.bridge(1, (remote) => remote.behind)).toBe(false);
    c.handle(1, c.node(1).receive(c.now, { kind: "digest", from: idOf(2), versions: { [TWO]: 180 * TERM_SPAN + 3 }, reply: false }));
    expect(c.bridge(1, (remote) => remote.behind)).toBe(true);
  });
});

describe("remote origins: the cluster's own names", () => {
  it("lanRecords lists each name's claim of a member origin, even where another cluster's claim wins it", () => {
    const c = new Cluster(1, 2);
    takeOver(c, 1, 100, { name: "shared", uri: "PYRO:theirs@10.9.0.1:1", metadata: [], claim: 50 });
    // Registered after it saw the remote claim, node 2 claims later (Lamport): the remote record wins here.
    c.handle(2, c.node(2).register(c.now, "shared", "PYRO:mine@10.1.0.2:1"));
    c.handle(2, c.node(2).register(c.now, "own", "PYRO:own@10.1.0.2:1"));
    c.pump();
    expect(c.node(2).own("shared")!.claim).toBeGreaterThan(50);
    expect(c.node(1).lookup("shared")?.origin).toBe(TWO);
    expect(c.node(1).conflicts().map((x) => x.name)).toEqual(["shared"]);
    expect(c.bridge(1, (remote) => remote.lanRecords()).map((r) => `${r.name}@${nodeOf(r.origin)}`)).toEqual(["own@2", "shared@2"]);
  });
});
