/**
 * Registry replication (src/federation/registry-replica.ts) alone: replicas on a virtual
 * clock, every message through JSON and parseReplicaMessage as a link would carry it,
 * delivered in a seeded random order; no sockets. Membership is played by the test
 * (peerUp / peerDown), partitions by cut links.
 */
import { describe, expect, it } from "vitest";
import { ProtocolError } from "../src/errors.js";
import { compareClaims, formatQualified, parseQualified, type NameRecord } from "../src/federation/name-record.js";
import { RegistryReplica, type NameEvent, type ReplicaOutput } from "../src/federation/registry-replica.js";
import { MAX_ORIGINS, MAX_PUSH_RECORDS, MAX_RECORDS, parseReplicaMessage, type ReplicaMessage } from "../src/federation/replica-message.js";
import type { ReplicaTiming } from "../src/federation/replica-timing.js";
import { validateName } from "../src/names.js";
import { parseUri } from "../src/uri.js";
import { prng } from "./seeded.js";

/** Ids sort as their numbers do. */
const idOf = (n: number): string => n.toString(16).padStart(32, "0");
const nodeOf = (id: string): number => parseInt(id, 16);
const uri = (n: number, object = "obj"): string => `PYRO:${object}@10.0.0.${n}:9100`;
const TIMING: Partial<ReplicaTiming> = { antiEntropyInterval: 1000, tombstoneTtl: 20_000, originGrace: 30_000 };

interface Sent {
  readonly from: number;
  readonly to: number;
  readonly message: ReplicaMessage;
}

class Lab {
  now = 1_000_000;
  readonly nodes = new Map<number, RegistryReplica>();
  readonly events = new Map<number, NameEvent[]>();
  readonly sent: Sent[] = [];
  /** "a>b": nothing a sends reaches b. */
  readonly cut = new Set<string>();
  drop: (sent: Sent) => boolean = () => false;
  readonly #queue: { from: number; to: number; json: string }[] = [];
  readonly #random: () => number;

  constructor(
    readonly seed: number,
    readonly timing: Partial<ReplicaTiming> = TIMING,
  ) {
    this.#random = prng(seed);
  }

  add(...ns: number[]): void {
    for (const n of ns) {
      this.nodes.set(n, new RegistryReplica({ self: idOf(n), random: prng(this.seed * 1000 + n), timing: this.timing }));
      this.events.set(n, []);
      this.handle(n, this.node(n).tick(this.now));
    }
  }

  node(n: number): RegistryReplica {
    return this.nodes.get(n)!;
  }

  /** Every node of `ns` hears that every other is up. */
  link(ns: readonly number[], others: readonly number[] = ns): void {
    for (const a of ns) {
      for (const b of others) {
        if (a === b) continue;
        this.handle(a, this.node(a).peerUp(this.now, idOf(b)));
        if (others !== ns) this.handle(b, this.node(b).peerUp(this.now, idOf(a)));
      }
    }
  }

  /** Cuts the links between two groups (each side hears the other is down), or heals them. */
  split(left: readonly number[], right: readonly number[], heal = false): void {
    for (const a of left) for (const b of right) for (const key of [`${a}>${b}`, `${b}>${a}`]) heal ? this.cut.delete(key) : this.cut.add(key);
    if (heal) return this.link(left, right);
    for (const a of left) for (const b of right) {
      this.handle(a, this.node(a).peerDown(this.now, idOf(b)));
      this.handle(b, this.node(b).peerDown(this.now, idOf(a)));
    }
  }

  handle(n: number, out: ReplicaOutput): ReplicaOutput {
    this.events.get(n)!.push(...out.events);
    for (const { to, message } of out.sends) {
      const sent = { from: n, to: nodeOf(to), message };
      this.sent.push(sent);
      if (!this.cut.has(`${n}>${sent.to}`) && !this.drop(sent)) this.#queue.push({ from: n, to: sent.to, json: JSON.stringify(message) });
    }
    return out;
  }

  /** Delivers queued messages, `limit` of them or until none is left: links in random turns, each in order (as a ZeroMQ link is). */
  pump(limit = Infinity): void {
    for (let i = 0; i < limit && this.#queue.length > 0; i++) {
      const pick = this.#queue[Math.floor(this.#random() * this.#queue.length)]!;
      const { from, to, json } = this.#queue.splice(this.#queue.findIndex((q) => q.from === pick.from && q.to === pick.to), 1)[0]!;
      if (this.cut.has(`${from}>${to}`) || !this.nodes.has(to)) continue;
      this.handle(to, this.node(to).receive(this.now, parseReplicaMessage(JSON.parse(json))));
    }
  }

  /** Runs the clock `ms` on, ticking every node each `step`. */
  run(ms: number, step = 250): void {
    this.pump();
    for (const end = this.now + ms; this.now < end; ) {
      this.now += step;
      for (const [n, node] of this.nodes) this.handle(n, node.tick(this.now));
      this.pump();
    }
  }

  /** What a node shows: `name=uri@origin[tags]`, by name. */
  view(n: number): string[] {
    return show(this.node(n).list());
  }

  /** What every node should show: each origin's own live records, the earliest claim of each name winning. */
  expected(): string[] {
    const best = new Map<string, NameRecord>();
    for (const [n, node] of this.nodes) {
      for (const r of node.records(idOf(n))) if (r.uri !== null && (!best.has(r.name) || compareClaims(r, best.get(r.name)!) < 0)) best.set(r.name, r);
    }
    return show([...best.values()]);
  }
}

const show = (records: readonly NameRecord[]): string[] => records.map((r) => `${r.name}=${r.uri}@${nodeOf(r.origin)}[${r.metadata.join(",")}]`).sort();

/** Replays a node's events into the view they describe: it must be what the node shows. */
function replay(events: readonly NameEvent[]): string[] {
  const view = new Map<string, { uri: string; origin: string; metadata: readonly string[] }>();
  for (const e of events) {
    if (e.kind === "registered") view.set(e.name, { uri: e.uri, origin: e.origin, metadata: e.metadata });
    else if (e.kind === "removed") {
      expect(view.get(e.name)?.uri, `removed ${e.name}`).toBe(e.uri);
      view.delete(e.name);
    } else if (e.kind === "metadataChanged") view.set(e.name, { ...view.get(e.name)!, metadata: e.metadata });
  }
  return [...view].map(([name, v]) => `${name}=${v.uri}@${nodeOf(v.origin)}[${v.metadata.join(",")}]`).sort();
}

function converged(lab: Lab): void {
  const expected = lab.expected();
  for (const n of lab.nodes.keys()) {
    expect(lab.view(n), `node ${n}`).toEqual(expected);
    expect(replay(lab.events.get(n)!), `events of node ${n}`).toEqual(expected);
    expect(lab.node(n).digestHash(), `digest of node ${n}`).toBe(lab.node(1).digestHash());
  }
}

const rec = (origin: number, version: number, name: string, claim: number, u: string | null = uri(origin), metadata: string[] = []): NameRecord => ({ origin: idOf(origin), version, name, claim, uri: u, metadata });
const push = (from: number, records: NameRecord[], hops = 0): ReplicaMessage => ({ kind: "push", from: idOf(from), hops, records });
const kinds = (out: ReplicaOutput): string[] => out.events.map((e) => `${e.kind} ${e.name}${"uri" in e ? ` ${e.uri}` : ""}`);

describe("replica: owned, versioned records", () => {
  it("numbers each local change with the next version, continuing from the persisted one", () => {
    const r = new RegistryReplica({ self: idOf(1), version: 41, clock: 7 });
    const a = r.register(0, "lab.laser", uri(1), ["b", "a", "a"]);
    expect(a.record).toEqual(rec(1, 42, "lab.laser", 8, uri(1), ["a", "b"]));
    expect(kinds(a)).toEqual([`registered lab.laser ${uri(1)}`]);
    // Re-registering keeps the claim; a delete then a register takes a new one.
    expect(r.register(0, "lab.laser", uri(1, "two")).record).toMatchObject({ version: 43, claim: 8 });
    expect(r.setMetadata(0, "lab.laser", ["x"]).events).toEqual([{ kind: "metadataChanged", name: "lab.laser", metadata: ["x"], origin: idOf(1) }]);
    expect(r.remove(0, "lab.laser").record).toMatchObject({ version: 45, uri: null, metadata: [] });
    expect(r.remove(0, "lab.laser").record).toBeUndefined();
    expect(r.register(0, "lab.laser", uri(1)).record).toMatchObject({ version: 46, claim: 9 });
    expect([r.version, r.clock, r.digest()]).toEqual([46, 9, { [idOf(1)]: 46 }]);
    expect(() => r.register(0, "bad#name", uri(1))).toThrow(/contains/);
    expect(() => r.register(0, "x", "PYRONAME:x")).toThrow(/only PYRO/);
    expect(() => r.register(0, "pyro-ts.NameServer", uri(1))).toThrow(/not replicated/);
  });

  it("restores its own persisted records with their versions and claims", () => {
    const r = new RegistryReplica({ self: idOf(1) });
    const out = r.restore(0, [rec(1, 5, "a", 3), rec(1, 9, "b", 4, null)]);
    expect(kinds(out)).toEqual([`registered a ${uri(1)}`]);
    expect(r.register(0, "c", uri(1)).record).toMatchObject({ version: 10, claim: 5 });
    expect(() => r.restore(0, [rec(2, 1, "a", 1)])).toThrow(/not this nameserver's own/);
  });

  it("applies a change only if it is newer: order of arrival and duplicates change nothing", () => {
    const v1 = rec(1, 1, "x", 1, uri(1, "one"));
    const v2 = rec(1, 2, "x", 1, uri(1, "two"));
    const v3 = rec(1, 3, "x", 1, null);
    const inOrder = new RegistryReplica({ self: idOf(2) });
    inOrder.peerUp(0, idOf(1));
    expect([v1, v2, v3].flatMap((r) => kinds(inOrder.receive(0, push(1, [r]))))).toEqual([`registered x ${uri(1, "one")}`, `registered x ${uri(1, "two")}`, `removed x ${uri(1, "two")}`]);
    const late = new RegistryReplica({ self: idOf(2) });
    late.peerUp(0, idOf(1));
    expect([v3, v1, v2, v2].flatMap((r) => kinds(late.receive(0, push(1, [r]))))).toEqual([]);
    expect(late.stats.stale).toBe(3);
    // Versions 1 and 2 were seen (superseded by 3): the replica is complete up to 3.
    expect(late.digest()).toEqual({ [idOf(1)]: 3 });
    const gap = new RegistryReplica({ self: idOf(2) });
    gap.receive(0, push(1, [v1, v3, rec(1, 4, "y", 2)]));
    expect(gap.digest()[idOf(1)]).toBe(1);
    // Its origin was never reported up: its names stay hidden until it is.
    expect(gap.count()).toBe(0);
    expect(kinds(gap.peerUp(0, idOf(1)))).toEqual([`registered y ${uri(1)}`]);
  });

  it("refuses records of its own origin from anyone else, and jumps past a lost counter", () => {
    const r = new RegistryReplica({ self: idOf(1) });
    r.peerUp(0, idOf(2));
    r.register(0, "mine", uri(1));
    const out = r.receive(0, push(2, [rec(1, 5, "mine", 1, uri(9)), rec(1, 6, "forged", 1)], 1));
    expect([out.sends, out.events, r.stats.forged]).toEqual([[], [], 2]);
    expect(show(r.list())).toEqual([`mine=${uri(1)}@1[]`]);
    r.receive(0, { kind: "digest", from: idOf(2), versions: { [idOf(1)]: 70 }, reply: false });
    expect([r.stats.counterJumps, r.register(0, "next", uri(1)).record?.version]).toEqual([1, 71]);
  });
});

describe("replica: spreading", () => {
  it("pushes a change at once; each replica forwards it once, the first time, never to its origin", () => {
    const lab = new Lab(3, { ...TIMING, pushFanout: 3 });
    const ns = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    lab.add(...ns);
    lab.link(ns);
    lab.run(3000);
    lab.sent.length = 0;
    const out = lab.handle(1, lab.node(1).register(lab.now, "lab.laser", uri(1)));
    expect(out.sends.map((s) => [s.message.kind, (s.message as { hops: number }).hops])).toEqual([["push", 0], ["push", 0], ["push", 0]]);
    lab.pump();
    const pushes = lab.sent.filter((s) => s.message.kind === "push");
    const reached = new Set(pushes.map((s) => s.to));
    expect(reached.size).toBeGreaterThan(6);
    for (const n of ns) {
      const mine = pushes.filter((s) => s.from === n);
      // Every replica reached forwards one batch of 3, to 3 peers, none the origin; the others none.
      expect(mine.length, `pushes by ${n}`).toBe(n === 1 || reached.has(n) ? 3 : 0);
      expect(new Set(mine.map((s) => s.to)).size).toBe(mine.length);
      if (n !== 1) expect(mine.every((s) => s.to !== 1 && (s.message as { hops: number }).hops >= 1)).toBe(true);
    }
    // A duplicate is not forwarded again.
    const copy = pushes.find((s) => s.to === 2) ?? pushes[0]!;
    expect(lab.node(copy.to).receive(lab.now, copy.message).sends).toEqual([]);
    // Those no push reached get it from anti-entropy.
    lab.run(5000);
    converged(lab);
  });

  it("anti-entropy repairs a replica that lost messages, in parts within the caps", () => {
    const lab = new Lab(5);
    lab.add(1, 2, 3);
    lab.link([1, 2, 3]);
    lab.run(2000);
    lab.drop = (s) => s.to === 3;
    for (let i = 0; i < 2500; i++) lab.handle(1, lab.node(1).register(lab.now, `bulk.${i}`, uri(1, `o${i}`)));
    lab.handle(2, lab.node(2).register(lab.now, "two", uri(2)));
    lab.pump();
    expect(lab.node(3).count()).toBe(0);
    lab.drop = () => false;
    lab.sent.length = 0;
    lab.run(5000);
    expect(lab.node(3).count()).toBe(2501);
    const parts = lab.sent.filter((s) => s.to === 3 && s.message.kind === "records").map((s) => (s.message.kind === "records" ? s.message.records.length : 0));
    expect(Math.max(...parts)).toBeLessThanOrEqual(MAX_RECORDS);
    expect(parts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2501);
    converged(lab);
    // Converged and idle: one summary per node per round, and nothing else.
    lab.sent.length = 0;
    lab.run(3000);
    expect(new Set(lab.sent.map((s) => s.message.kind))).toEqual(new Set(["summary"]));
  });

  it("a partition with changes on both sides heals with nothing lost and nothing resurrected", () => {
    for (const long of [false, true]) {
      const lab = new Lab(long ? 11 : 7);
      const left = [1, 2, 3];
      const right = [4, 5, 6];
      lab.add(...left, ...right);
      lab.link([...left, ...right]);
      for (const n of lab.nodes.keys()) for (let k = 0; k < 3; k++) lab.handle(n, lab.node(n).register(lab.now, `n${n}.dev${k}`, uri(n, `d${k}`)));
      lab.run(3000);
      converged(lab);
      lab.split(left, right);
      // Each side hides the other's names at once.
      expect(lab.view(1).filter((v) => /^n[456]/.test(v))).toEqual([]);
      lab.handle(1, lab.node(1).remove(lab.now, "n1.dev0"));
      lab.handle(1, lab.node(1).register(lab.now, "both", uri(1, "both")));
      lab.handle(2, lab.node(2).setMetadata(lab.now, "n2.dev1", ["moved"]));
      lab.handle(4, lab.node(4).remove(lab.now, "n4.dev0"));
      lab.handle(5, lab.node(5).register(lab.now, "both", uri(5, "both")));
      lab.handle(6, lab.node(6).register(lab.now, "n6.dev2", uri(6, "new")));
      for (let i = 0; i < 300; i++) lab.handle(5, lab.node(5).register(lab.now, `bulk.${i}`, uri(5, `b${i}`)));
      // Long: past the grace, each side drops the other's records; healing fetches them again.
      lab.run(long ? 40_000 : 5000);
      expect(lab.node(1).records(idOf(5)).length).toBe(long ? 0 : 3);
      lab.split(left, right, true);
      lab.run(5000);
      converged(lab);
      const view = lab.view(3);
      expect(view.filter((v) => /^n[14]\.dev0/.test(v))).toEqual([]);
      expect(view).toContain(`n2.dev1=${uri(2, "d1")}@2[moved]`);
      expect(view.filter((v) => v.startsWith("bulk.")).length).toBe(300);
      const conflicts = lab.node(6).conflicts().map((c) => [c.name, nodeOf(c.winner.origin), c.losers.map((l) => nodeOf(l.origin))]);
      expect(conflicts).toHaveLength(1);
      expect(lab.node(2).conflicts().map((c) => [c.name, nodeOf(c.winner.origin), c.losers.map((l) => nodeOf(l.origin))])).toEqual(conflicts);
    }
  });
});

describe("replica: tombstones", () => {
  it("a late copy never brings a deleted name back, before or after the tombstone is pruned", () => {
    const lab = new Lab(13);
    lab.add(1, 2, 3);
    lab.link([1, 2, 3]);
    const x1 = lab.handle(1, lab.node(1).register(lab.now, "x", uri(1))).sends[0]!.message;
    lab.handle(1, lab.node(1).register(lab.now, "y", uri(1, "y")));
    lab.run(2000);
    // 3 stays up but hears nothing more (a replica that lost every message).
    for (const key of ["1>3", "3>1", "2>3", "3>2"]) lab.cut.add(key);
    lab.handle(1, lab.node(1).remove(lab.now, "x"));
    lab.run(2000);
    expect(lab.node(2).receive(lab.now, x1).events).toEqual([]);
    expect(lab.node(2).lookup("x")).toBeUndefined();
    lab.run(25_000);
    // Pruned on 1 and 2: no record of x is held, the floor is past it.
    expect(lab.node(2).records(idOf(1)).map((r) => r.name)).toEqual(["y"]);
    expect(lab.node(2).receive(lab.now, x1).events).toEqual([]);
    expect(lab.node(2).lookup("x")).toBeUndefined();
    expect(lab.node(3).lookup("x")?.uri).toBe(uri(1));
    // 3, behind the floor, gets a snapshot and drops x.
    for (const key of ["1>3", "3>1", "2>3", "3>2"]) lab.cut.delete(key);
    lab.run(3000);
    expect(lab.events.get(3)!.filter((e) => e.kind === "removed").map((e) => e.name)).toEqual(["x"]);
    expect(lab.sent.some((s) => s.to === 3 && s.message.kind === "records" && s.message.snapshots.length > 0)).toBe(true);
    converged(lab);
  });

  it("a tombstone is kept past its time while older changes of its origin are missing", () => {
    const r = new RegistryReplica({ self: idOf(9), timing: TIMING });
    r.tick(0);
    r.peerUp(0, idOf(1));
    r.receive(0, push(1, [rec(1, 3, "x", 1, null)]));
    r.tick(30_000);
    expect(r.records(idOf(1)).map((x) => [x.name, x.version])).toEqual([["x", 3]]);
    // Version 1 comes late: above the complete version (0), but older than the tombstone held.
    expect(r.receive(30_000, push(1, [rec(1, 1, "x", 1)])).events).toEqual([]);
    expect(r.lookup("x")).toBeUndefined();
  });

  it("a snapshot larger than one message drops exactly the deleted names", () => {
    const lab = new Lab(17);
    lab.add(1, 2);
    lab.link([1, 2]);
    for (let i = 0; i < 2500; i++) lab.handle(1, lab.node(1).register(lab.now, `n.${String(i).padStart(4, "0")}`, uri(1)));
    lab.run(2000);
    lab.cut.add("1>2").add("2>1");
    for (const i of [3, 1200, 2499]) lab.handle(1, lab.node(1).remove(lab.now, `n.${String(i).padStart(4, "0")}`));
    lab.run(25_000);
    lab.cut.clear();
    lab.sent.length = 0;
    lab.run(3000);
    expect(lab.sent.filter((s) => s.message.kind === "records" && s.message.snapshots.length > 0).length).toBeGreaterThanOrEqual(3);
    expect(lab.events.get(2)!.filter((e) => e.kind === "removed").map((e) => e.name).sort()).toEqual(["n.0003", "n.1200", "n.2499"]);
    converged(lab);
  });
});

describe("replica: liveness", () => {
  it("hides an origin's names when it is down, shows them when it is back, drops them past the grace", () => {
    const lab = new Lab(19);
    lab.add(1, 2);
    lab.link([1, 2]);
    lab.handle(1, lab.node(1).register(lab.now, "a", uri(1)));
    lab.handle(1, lab.node(1).register(lab.now, "b", uri(1, "b")));
    lab.run(1000);
    const two = lab.node(2);
    expect(kinds(lab.handle(2, two.peerDown(lab.now, idOf(1))))).toEqual([`removed a ${uri(1)}`, `removed b ${uri(1, "b")}`]);
    expect([two.lookup("a"), two.count(), two.records(idOf(1)).length]).toEqual([undefined, 0, 2]);
    expect(kinds(lab.handle(2, two.peerUp(lab.now, idOf(1))))).toEqual([`registered a ${uri(1)}`, `registered b ${uri(1, "b")}`]);
    expect(two.records(idOf(1)).map((r) => r.version)).toEqual([1, 2]);
    lab.handle(2, two.peerDown(lab.now, idOf(1)));
    lab.cut.add("1>2").add("2>1");
    lab.run(31_000);
    expect(two.records(idOf(1))).toEqual([]);
    expect(two.receive(lab.now, push(1, [rec(1, 3, "c", 9)])).events).toEqual([]);
    expect(two.stats.gone).toBe(1);
    lab.cut.clear();
    lab.handle(2, two.peerUp(lab.now, idOf(1)));
    lab.pump();
    expect(lab.view(2)).toEqual([`a=${uri(1)}@1[]`, `b=${uri(1, "b")}@1[]`]);
    converged(lab);
  });
});

describe("replica: conflicts", () => {
  // Four origins claim lab.laser; 4's claim (the earliest) was deleted. 2 and 3 tie at claim 5: 2 has the lower id.
  const claims = [rec(3, 1, "lab.laser", 5, uri(3)), rec(1, 4, "lab.laser", 7, uri(1)), rec(2, 2, "lab.laser", 5, uri(2)), rec(4, 1, "lab.laser", 1, uri(4)), rec(4, 2, "lab.laser", 1, null), rec(2, 3, "lab.laser", 5, uri(2), ["t"])];

  it("every replica picks the same winner whatever the order of arrival", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const order = [...claims];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const r = new RegistryReplica({ self: idOf(9) });
      const events: NameEvent[] = [];
      for (const n of [1, 2, 3, 4]) r.peerUp(0, idOf(n));
      for (const record of order) events.push(...r.receive(0, push(nodeOf(record.origin), [record])).events);
      expect(show(r.list()), `seed ${seed}`).toEqual([`lab.laser=${uri(2)}@2[t]`]);
      expect(replay(events)).toEqual([`lab.laser=${uri(2)}@2[t]`]);
      expect(r.conflicts().map((c) => [nodeOf(c.winner.origin), ...c.losers.map((l) => nodeOf(l.origin))])).toEqual([[2, 3, 1]]);
    }
  });

  it("random changes on five replicas in random orders, some lost: all agree on every winner, and their events say so", () => {
    for (let seed = 1; seed <= 60; seed++) {
      const lab = new Lab(seed);
      const ns = [1, 2, 3, 4, 5];
      lab.add(...ns);
      lab.link(ns);
      lab.pump();
      const random = prng(seed + 500);
      // Every other seed loses a fifth of the messages while the changes are made.
      const loss = prng(seed + 900);
      lab.drop = () => seed % 2 === 0 && loss() < 0.2;
      for (let step = 0; step < 40; step++) {
        const n = ns[Math.floor(random() * ns.length)]!;
        const name = ["lab.laser", "lab.stage", "a", "b"][Math.floor(random() * 4)]!;
        const op = random();
        const node = lab.node(n);
        if (op < 0.5) lab.handle(n, node.register(lab.now, name, uri(n, `s${step}`)));
        else if (op < 0.75) lab.handle(n, node.remove(lab.now, name));
        else lab.handle(n, node.setMetadata(lab.now, name, [`m${step}`]));
        lab.pump(Math.floor(random() * 6));
      }
      lab.drop = () => false;
      lab.run(6000);
      converged(lab);
      const conflicts = JSON.stringify(lab.node(1).conflicts());
      for (const n of ns) expect(JSON.stringify(lab.node(n).conflicts()), `seed ${seed} node ${n}`).toBe(conflicts);
    }
  });

  it("the winner going away shows the next claim; a loser changing shows nothing; the loser stays reachable qualified", () => {
    const r = new RegistryReplica({ self: idOf(9) });
    for (const n of [1, 2]) r.peerUp(0, idOf(n));
    r.receive(0, push(2, [rec(2, 1, "lab.laser", 1, uri(2))]));
    expect(r.receive(0, push(1, [rec(1, 1, "lab.laser", 4, uri(1))])).events).toEqual([{ kind: "conflict", name: "lab.laser", winner: idOf(2), loser: idOf(1) }]);
    expect(r.receive(0, push(1, [rec(1, 2, "lab.laser", 4, uri(1, "moved"))])).events).toEqual([]);
    const loser = r.conflicts()[0]!.losers[0]!;
    // 8 digits do not tell 1 from 2 apart (both start with zeros): the form grows until they do.
    const qualified = r.qualifiedName(loser);
    expect(qualified).toBe(`lab.laser,${idOf(1)}`);
    expect(r.lookupQualified(qualified)?.uri).toBe(uri(1, "moved"));
    expect(r.lookupQualified(`lab.laser,${idOf(2)}`)?.uri).toBe(uri(2));
    expect(r.lookupQualified(`lab.laser,00000000`)).toBeUndefined();
    expect(kinds(r.receive(0, push(2, [rec(2, 2, "lab.laser", 1, null)])))).toEqual([`registered lab.laser ${uri(1, "moved")}`]);
    expect(r.conflicts()).toEqual([]);
  });

  it("the qualified form is no valid name, survives a PYRONAME URI and parses back", () => {
    const q = formatQualified("lab.laser", "3f9a0c12" + "0".repeat(24));
    expect(q).toBe("lab.laser,3f9a0c12");
    expect(() => validateName(q)).toThrow();
    expect(parseUri(`PYRONAME:${q}@host:9090`)).toMatchObject({ protocol: "PYRONAME", object: q });
    expect(parseQualified(q)).toEqual({ name: "lab.laser", originPrefix: "3f9a0c12" });
    for (const bad of ["lab.laser", "lab.laser,3f9a", "lab.laser,XYZXYZXY", ",3f9a0c12", "a b,3f9a0c12"]) expect(parseQualified(bad), bad).toBeUndefined();
  });
});

describe("replica: messages", () => {
  const good = rec(1, 1, "lab.laser", 1);
  const fail = (value: unknown): void => expect(() => parseReplicaMessage(JSON.parse(JSON.stringify(value))), JSON.stringify(value).slice(0, 120)).toThrow(ProtocolError);

  it("accepts well-formed messages as they are", () => {
    const messages: ReplicaMessage[] = [
      push(2, [good, rec(1, 2, "x", 1, null)], 3),
      { kind: "summary", from: idOf(2), hash: "0123456789abcdef" },
      { kind: "digest", from: idOf(2), versions: { [idOf(1)]: 5 }, reply: true },
      { kind: "records", from: idOf(2), records: [good], ranges: [{ origin: idOf(1), after: 0, through: 4 }], snapshots: [{ origin: idOf(1), through: 4, floor: 2, first: "", next: "m" }] },
    ];
    for (const m of messages) expect(parseReplicaMessage(JSON.parse(JSON.stringify(m)))).toEqual(m);
  });

  it("refuses malformed records, bad fields and anything over a cap, whole", () => {
    const bad: Partial<Record<keyof NameRecord, unknown>>[] = [
      { origin: "ABC" }, { version: 0 }, { version: 1.5 }, { claim: 2 ** 53 }, { name: "a#b" }, { name: "pyro-ts.NameServer" },
      { uri: "PYRONAME:x" }, { uri: "pyro:obj@10.0.0.1:9100" }, { uri: "PYRO:obj" }, { metadata: ["b", "a"] }, { metadata: "a" }, { uri: null, metadata: ["a"] },
    ];
    for (const change of bad) fail(push(2, [{ ...good, ...change } as NameRecord]));
    fail({ kind: "gossip", from: idOf(2) });
    fail({ ...push(2, [good]), hops: 65 });
    fail({ ...push(2, [good]), from: "nobody" });
    fail(push(2, Array.from({ length: MAX_PUSH_RECORDS + 1 }, (_, i) => rec(1, i + 1, `n${i}`, 1))));
    fail({ kind: "records", from: idOf(2), records: Array.from({ length: MAX_RECORDS + 1 }, (_, i) => rec(1, i + 1, `n${i}`, 1)), ranges: [], snapshots: [] });
    fail({ kind: "records", from: idOf(2), records: [], ranges: [{ origin: idOf(1), after: 5, through: 4 }], snapshots: [] });
    fail({ kind: "records", from: idOf(2), records: [], ranges: [], snapshots: [{ origin: idOf(1), through: 4, floor: 2, first: "m", next: "a" }] });
    fail({ kind: "summary", from: idOf(2), hash: "xyz" });
    fail({ kind: "digest", from: idOf(2), versions: { [idOf(1)]: -1 }, reply: true });
    fail({ kind: "digest", from: idOf(2), versions: JSON.parse(`{"__proto__": 1}`), reply: true });
    fail({ kind: "digest", from: idOf(2), versions: Object.fromEntries(Array.from({ length: MAX_ORIGINS + 1 }, (_, i) => [idOf(i + 1), 1])), reply: true });
  });
});
