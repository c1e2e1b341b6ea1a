/**
 * The membership state machine (src/federation/membership.ts) alone: 2 to 4 instances on a
 * virtual clock, messages passed directly (each through JSON and parsePeerMessage, as a link
 * would carry it), no sockets. A `Lab` delivers every message at once, in order, except on
 * links cut one way or both; beacons reach every other node unless cut too.
 */
import { describe, expect, it } from "vitest";
import type { MemberRecord, MemberState, PeerChange } from "../src/federation/member.js";
import { Membership, type HeardBeacon, type MembershipOutput } from "../src/federation/membership.js";
import { DEFAULT_TIMING, suspicionTimeout } from "../src/federation/membership-timing.js";
import { parsePeerMessage, type PeerMessage } from "../src/federation/peer-message.js";
import { prng } from "./seeded.js";

const CLUSTER = "lab";
const DOMAIN = "10.0.0.255";
/** Ids sort as their numbers do: node 1 leads. */
const idOf = (n: number): string => n.toString(16).padStart(32, "0");
const endpointOf = (n: number): string => `10.0.0.${n}:9090`;

interface Event {
  readonly at: number;
  readonly observer: number;
  readonly change: PeerChange["change"];
  readonly peer: number;
  readonly incarnation: number;
}

class Lab {
  now = 0;
  readonly nodes = new Map<number, Membership>();
  readonly events: Event[] = [];
  /** Every message delivered: sender, receiver, message. */
  readonly delivered: { from: number; to: number; message: PeerMessage }[] = [];
  /** Messages that left a node: sender, receiver. */
  readonly sent: { from: number; to: number; message: PeerMessage }[] = [];
  /** "a>b": nothing a sends reaches b (messages). */
  readonly cut = new Set<string>();
  /** "a>b": a's beacons do not reach b. */
  readonly deaf = new Set<string>();
  /** Nodes that crashed: they receive and do nothing. */
  readonly crashed = new Set<number>();
  /** Paused nodes: until when, and what waits for them. */
  readonly paused = new Map<number, { until: number; backlog: (() => MembershipOutput)[] }>();
  readonly #queue: { from: number; to: number; json: string }[] = [];

  add(n: number, incarnation = 0): Membership {
    const node = new Membership({ cluster: CLUSTER, id: idOf(n), endpoint: endpointOf(n), domain: DOMAIN, incarnation, random: prng(n) });
    this.nodes.set(n, node);
    return node;
  }

  start(...ns: number[]): void {
    for (const n of ns) this.handle(n, this.node(n).start(this.now));
    this.pump();
  }

  node(n: number): Membership {
    return this.nodes.get(n)!;
  }

  /** Cuts (or with `heal`, restores) messages and beacons between a and b, both ways. */
  split(a: number, b: number, heal = false): void {
    for (const key of [`${a}>${b}`, `${b}>${a}`]) {
      if (heal) {
        this.cut.delete(key);
        this.deaf.delete(key);
      } else {
        this.cut.add(key);
        this.deaf.add(key);
      }
    }
  }

  /** Carries out one step's output of node `n`. */
  handle(n: number, out: MembershipOutput): void {
    for (const change of out.events) {
      this.events.push({ at: this.now, observer: n, change: change.change, peer: parseInt(change.peer.id, 16), incarnation: change.peer.incarnation });
    }
    for (const { to, message } of out.sends) {
      const target = Number(to.endpoint.split(".")[3]!.split(":")[0]);
      this.sent.push({ from: n, to: target, message });
      this.#queue.push({ from: n, to: target, json: JSON.stringify(message) });
    }
    if (out.beacon) {
      const self = this.node(n).self;
      const beacon: HeardBeacon = { id: self.id, endpoint: out.beacon.leaving ? `10.0.0.${n}:0` : self.endpoint, incarnation: self.incarnation, leaving: out.beacon.leaving };
      for (const other of this.nodes.keys()) if (other !== n && !this.deaf.has(`${n}>${other}`)) this.#reach(other, (node) => node.beaconHeard(this.now, beacon));
    }
  }

  /** Delivers queued messages (and whatever they cause) until none is left. */
  pump(): void {
    while (this.#queue.length > 0) {
      const { from, to, json } = this.#queue.shift()!;
      if (this.cut.has(`${from}>${to}`) || !this.nodes.has(to)) continue;
      const message = parsePeerMessage(JSON.parse(json));
      this.delivered.push({ from, to, message });
      this.#reach(to, (node) => node.receive(this.now, message));
    }
  }

  /**
   * Runs the clock to `now + ms`, waking each node at its own deadlines; or stops right after
   * a node's step whose output `stop` matches, its messages not yet delivered (returns true).
   */
  advance(ms: number, stop?: (n: number, out: MembershipOutput) => boolean): boolean {
    const end = this.now + ms;
    for (;;) {
      let next = end;
      for (const [n, node] of this.nodes) if (!this.crashed.has(n) && !this.paused.has(n)) next = Math.min(next, node.nextDeadline());
      for (const pause of this.paused.values()) next = Math.min(next, pause.until);
      this.now = Math.max(this.now, next);
      for (const [n, pause] of [...this.paused]) {
        if (pause.until > this.now) continue;
        // A paused process runs its expired timers first, then reads what queued up.
        this.paused.delete(n);
        this.handle(n, this.node(n).tick(this.now));
        for (const step of pause.backlog) this.handle(n, step());
      }
      for (const [n, node] of this.nodes) {
        if (this.crashed.has(n) || this.paused.has(n) || node.nextDeadline() > this.now) continue;
        const out = node.tick(this.now);
        this.handle(n, out);
        if (stop?.(n, out)) return true;
      }
      this.pump();
      if (this.now >= end) return false;
    }
  }

  /** Node n's view of node m: its state, or undefined when unknown. */
  stateOf(n: number, m: number): MemberState | undefined {
    return this.node(n).peers().find((p) => p.id === idOf(m))?.state;
  }

  eventsAbout(peer: number, change?: PeerChange["change"]): Event[] {
    return this.events.filter((e) => e.peer === peer && (change === undefined || e.change === change));
  }

  #reach(n: number, step: (node: Membership) => MembershipOutput): void {
    if (this.crashed.has(n)) return;
    const pause = this.paused.get(n);
    if (pause) pause.backlog.push(() => step(this.node(n)));
    else this.handle(n, step(this.node(n)));
  }
}

/** A lab whose nodes `ns` all started and know each other alive. */
function linked(...ns: number[]): Lab {
  const lab = new Lab();
  for (const n of ns) lab.add(n);
  lab.start(...ns);
  lab.advance(5000);
  for (const n of ns) for (const m of ns) if (n !== m) expect(lab.stateOf(n, m), `${n} sees ${m}`).toBe("alive");
  return lab;
}

const record = (n: number, state: MemberState, incarnation: number): MemberRecord => ({ id: idOf(n), endpoint: endpointOf(n), domain: DOMAIN, incarnation, state });
const gossip = (from: number, updates: MemberRecord[]): PeerMessage => ({ kind: "gossip", from: { id: idOf(from), endpoint: endpointOf(from) }, updates });

describe("membership: handshake", () => {
  it("makes a member only after both directions are proven", () => {
    const lab = new Lab();
    lab.add(1);
    lab.add(2);
    // 2 hears 1's beacon and answers with a pong, but nothing 1 sends reaches 2.
    lab.deaf.add("2>1");
    lab.cut.add("1>2");
    lab.start(1, 2);
    lab.advance(10_000);
    expect(lab.sent.some((s) => s.from === 2 && s.message.kind === "pong" && !s.message.reply)).toBe(true);
    expect(lab.delivered.some((d) => d.to === 1 && d.message.kind === "pong")).toBe(true);
    expect(lab.stateOf(1, 2)).toBeUndefined();
    expect(lab.stateOf(2, 1)).toBeUndefined();
    expect(lab.events).toEqual([]);
  });

  it("answering a pong commits to nothing: the peer is a member after ready", () => {
    const lab = new Lab();
    const one = lab.add(1);
    lab.start(1);
    const out = one.receive(lab.now, { kind: "pong", cluster: CLUSTER, from: record(2, "alive", 0), reply: false });
    expect(out.sends.map((s) => [s.to.endpoint, s.message.kind])).toEqual([[endpointOf(2), "pong"]]);
    expect(out.events).toEqual([]);
    expect(lab.stateOf(1, 2)).toBeUndefined();
    const ready = one.receive(lab.now, { kind: "ready", cluster: CLUSTER, from: record(2, "alive", 0) });
    expect(ready.events.map((e) => [e.change, e.peer.id])).toEqual([["joined", idOf(2)]]);
    // A new link swaps whole tables.
    expect(ready.sends.map((s) => s.message.kind)).toEqual(["sync"]);
  });

  it("a newcomer whose beacons only a non-leader hears still joins, through that member", () => {
    const lab = linked(1, 2, 3, 4, 5);
    lab.add(6);
    for (const n of [1, 2, 3, 4, 5]) lab.deaf.add(`${n}>6`);
    for (const n of [1, 2, 3, 4]) lab.deaf.add(`6>${n}`);
    lab.start(6);
    lab.advance(12_000);
    for (const n of [1, 2, 3, 4, 5]) expect(lab.stateOf(n, 6), `${n} sees 6`).toBe("alive");
    expect(lab.stateOf(6, 1)).toBe("alive");
    // Only 5 heard it: 5 made the handshake, after leaving it to the leader for a while.
    const pongs = lab.sent.filter((s) => s.to === 6 && s.message.kind === "pong" && !s.message.reply);
    expect(pongs.map((s) => s.from)).toEqual([5]);
  });

  it("a peer heard one way only (its beacons reach us, ours not it) becomes a member through the pong", () => {
    const lab = new Lab();
    lab.add(1);
    lab.add(2);
    lab.deaf.add("2>1");
    lab.start(1, 2);
    lab.advance(3000);
    expect(lab.stateOf(1, 2)).toBe("alive");
    expect(lab.stateOf(2, 1)).toBe("alive");
    expect(lab.eventsAbout(2, "joined").map((e) => e.observer)).toEqual([1]);
    expect(lab.eventsAbout(1, "joined").map((e) => e.observer)).toEqual([2]);
  });
});

describe("membership: tables", () => {
  it("a member learns of a member it never heard a beacon from", () => {
    const lab = new Lab();
    for (const n of [1, 2, 3]) lab.add(n);
    // 1 and 3 never hear each other's beacons, nor do they handshake: 2 is the go-between.
    lab.deaf.add("1>3");
    lab.deaf.add("3>1");
    lab.start(1, 2, 3);
    lab.advance(5000);
    expect(lab.stateOf(1, 3)).toBe("alive");
    expect(lab.stateOf(3, 1)).toBe("alive");
    expect(lab.sent.filter((s) => s.message.kind === "pong" && ((s.from === 1 && s.to === 3) || (s.from === 3 && s.to === 1)))).toEqual([]);
  });

  it("ignores messages from unknown senders", () => {
    const lab = linked(1, 2);
    const one = lab.node(1);
    const before = JSON.stringify(one.peers());
    for (const message of [
      gossip(9, [record(2, "dead", 5), record(7, "alive", 0)]),
      { kind: "sync", from: { id: idOf(9), endpoint: endpointOf(9) }, members: [record(2, "left", 5), record(8, "alive", 0)] } as PeerMessage,
      { kind: "ack", from: { id: idOf(9), endpoint: endpointOf(9) }, seq: 1, updates: [record(2, "suspect", 5)] } as PeerMessage,
    ]) {
      const out = one.receive(lab.now, message);
      expect(out.events).toEqual([]);
    }
    expect(JSON.stringify(one.peers())).toBe(before);
    expect(lab.stateOf(1, 7)).toBeUndefined();
  });

  it("stale or forged records (a lower incarnation) change nothing", () => {
    const lab = new Lab();
    lab.add(1);
    lab.add(2, 4);
    lab.add(3);
    lab.start(1, 2, 3);
    lab.advance(5000);
    const one = lab.node(1);
    for (const state of ["suspect", "dead", "left"] as const) {
      const out = one.receive(lab.now, gossip(3, [record(2, state, 3)]));
      expect(out.events).toEqual([]);
    }
    // A death of an unknown member is no news either.
    expect(one.receive(lab.now, gossip(3, [record(6, "dead", 0)])).events).toEqual([]);
    expect(lab.stateOf(1, 6)).toBeUndefined();
    expect(one.peers().find((p) => p.id === idOf(2))).toMatchObject({ state: "alive", incarnation: 4 });
    // A rumour about ourselves at our incarnation: we refute with the next one, to the sender first.
    const news = one.receive(lab.now, gossip(3, [record(1, "dead", 0)]));
    expect(one.self.incarnation).toBe(1);
    expect(news.sends.some((s) => s.to.endpoint === endpointOf(3) && s.message.kind === "gossip" && s.message.updates.some((r) => r.id === idOf(1) && r.state === "alive" && r.incarnation === 1))).toBe(true);
    // A stale one (an older incarnation): no new incarnation, but the sender hears our record.
    const stale = one.receive(lab.now, gossip(3, [record(1, "suspect", 0)]));
    expect(one.self.incarnation).toBe(1);
    expect(stale.sends.map((s) => [s.to.endpoint, s.message.kind])).toEqual([[endpointOf(3), "gossip"]]);
    expect(stale.events).toEqual([]);
  });

  it("corrects a peer that holds a member suspect or dead at an older incarnation", () => {
    const lab = linked(1, 2, 3);
    const two = lab.node(2);
    // 2 has seen 3 refute (incarnation 1); 1 still holds 3 dead at 0.
    expect(two.receive(lab.now, gossip(3, [record(3, "alive", 1)])).events).toEqual([]);
    const out = two.receive(lab.now, gossip(1, [record(3, "dead", 0)]));
    expect(out.events).toEqual([]);
    const corrections = out.sends.filter((s) => s.to.endpoint === endpointOf(1) && s.message.kind === "gossip");
    expect(corrections.map((s) => (s.message.kind === "gossip" ? s.message.updates : []))).toEqual([[record(3, "alive", 1)]]);
    // Nothing to correct in a record as new as ours.
    expect(two.receive(lab.now, gossip(1, [record(3, "alive", 1)])).sends).toEqual([]);
  });

  it("answers a ping from a member it does not know, and handshakes with it if gossip does not name it", () => {
    const lab = linked(1, 2);
    const ping: PeerMessage = { kind: "ping", from: { id: idOf(5), endpoint: endpointOf(5) }, seq: 9, updates: [record(2, "dead", 0)] };
    const out = lab.node(1).receive(lab.now, ping);
    expect(out.sends.map((s) => [s.to.endpoint, s.message.kind])).toEqual([[endpointOf(5), "ack"]]);
    expect(out.events).toEqual([]);
    expect(lab.stateOf(1, 2)).toBe("alive");
    const sentBefore = lab.sent.length;
    lab.advance(2 * DEFAULT_TIMING.beaconInterval * DEFAULT_TIMING.quietBeaconFactor + 100);
    expect(lab.sent.slice(sentBefore).filter((s) => s.from === 1 && s.to === 5).map((s) => s.message.kind)).toEqual(["pong"]);
  });

  it("ignores a pong or ready of another cluster", () => {
    const lab = new Lab();
    const one = lab.add(1);
    lab.start(1);
    expect(one.receive(lab.now, { kind: "pong", cluster: "other", from: record(2, "alive", 0), reply: false }).sends).toEqual([]);
    expect(one.receive(lab.now, { kind: "pong", cluster: "other", from: record(2, "alive", 0), reply: true }).events).toEqual([]);
    expect(one.receive(lab.now, { kind: "ready", cluster: "other", from: record(2, "alive", 0) }).events).toEqual([]);
    expect(lab.stateOf(1, 2)).toBeUndefined();
  });
});

describe("membership: failure detection", () => {
  const timeout = suspicionTimeout(DEFAULT_TIMING, 3);

  it("suspects a member that answers no probe, direct or indirect, then declares it dead after the suspicion timeout", () => {
    const lab = linked(1, 2, 3);
    const crashedAt = lab.now;
    lab.crashed.add(3);
    lab.advance(15_000);
    const suspicions = lab.eventsAbout(3, "suspect");
    expect(suspicions.map((e) => e.observer).sort()).toEqual([1, 2]);
    const first = Math.min(...suspicions.map((e) => e.at));
    // The ring order: someone probes 3 in every period, and a probe fails within one.
    expect(first - crashedAt).toBeLessThanOrEqual(3 * DEFAULT_TIMING.probeInterval);
    expect(lab.delivered.some((d) => d.message.kind === "ping-req" && d.message.target.id === idOf(3))).toBe(true);
    const deaths = lab.eventsAbout(3, "dead");
    expect(deaths.map((e) => e.observer).sort()).toEqual([1, 2]);
    const firstDeath = Math.min(...deaths.map((e) => e.at));
    expect(firstDeath - first).toBeGreaterThanOrEqual(timeout);
    expect(firstDeath - first).toBeLessThan(timeout + 50);
    expect(lab.stateOf(1, 3)).toBe("dead");
  });

  it("an indirect probe keeps alive a member whose direct link is lost", () => {
    const lab = linked(1, 2, 3);
    lab.cut.add("1>3");
    lab.cut.add("3>1");
    lab.advance(20_000);
    expect(lab.eventsAbout(3, "suspect")).toEqual([]);
    expect(lab.eventsAbout(1, "suspect")).toEqual([]);
    // 1 asked 2 to ping 3, and 2 passed 3's ack back.
    expect(lab.delivered.some((d) => d.from === 1 && d.to === 2 && d.message.kind === "ping-req" && d.message.target.id === idOf(3))).toBe(true);
    expect(lab.delivered.some((d) => d.from === 2 && d.to === 1 && d.message.kind === "ack")).toBe(true);
  });

  it("a suspect refutes with a higher incarnation and is alive again everywhere", () => {
    const lab = linked(1, 2, 3);
    // 3's links are down long enough to be suspected, not declared dead.
    lab.split(1, 3);
    lab.split(2, 3);
    lab.advance(3 * DEFAULT_TIMING.probeInterval);
    expect(lab.eventsAbout(3, "suspect").length).toBeGreaterThan(0);
    lab.split(1, 3, true);
    lab.split(2, 3, true);
    lab.advance(timeout + 2000);
    expect(lab.node(3).self.incarnation).toBe(1);
    expect(lab.eventsAbout(3, "alive").map((e) => [e.observer, e.incarnation]).sort()).toEqual([[1, 1], [2, 1]]);
    expect(lab.eventsAbout(3, "dead")).toEqual([]);
    expect(lab.stateOf(1, 3)).toBe("alive");
    expect(lab.stateOf(2, 3)).toBe("alive");
  });

  it("a paused member draws no verdict from the silence it caused, and refutes at once", () => {
    const lab = linked(1, 2, 3);
    const before = lab.events.length;
    // 2 pauses right after sending a probe: the ack will wait for it, unread.
    expect(lab.advance(5000, (n, out) => n === 2 && out.sends.some((s) => s.message.kind === "ping"))).toBe(true);
    lab.paused.set(2, { until: lab.now + 2000, backlog: [] });
    lab.pump();
    lab.advance(timeout + 3000);
    const after = lab.events.slice(before);
    // 2 suspected nobody when it woke up: the acks it had not read yet answered its probe.
    expect(after.filter((e) => e.observer === 2 && e.change !== "alive")).toEqual([]);
    expect(after.filter((e) => e.change === "dead")).toEqual([]);
    // It refuted whatever was suspected meanwhile: a new incarnation, sent to both members.
    expect(lab.node(2).self.incarnation).toBeGreaterThan(0);
    expect(lab.stateOf(1, 2)).toBe("alive");
    expect(lab.stateOf(3, 2)).toBe("alive");
  });
});

describe("membership: leaving and coming back", () => {
  it("a graceful leave is seen at once as left, and a port-0 beacon goes out", () => {
    const lab = linked(1, 2, 3);
    const at = lab.now;
    const out = lab.node(3).leave();
    expect(out.beacon).toEqual({ leaving: true });
    expect(out.sends.map((s) => s.to.endpoint).sort()).toEqual([endpointOf(1), endpointOf(2)]);
    lab.handle(3, out);
    lab.pump();
    expect(lab.eventsAbout(3, "left").map((e) => [e.observer, e.at])).toEqual([[1, at], [2, at]]);
    expect(lab.node(3).nextDeadline()).toBe(Infinity);
    expect(lab.node(3).receive(lab.now, gossip(1, [record(3, "dead", 0)])).sends).toEqual([]);
  });

  it("a leaving beacon (port 0) alone marks a member left; an older incarnation's does not", () => {
    const lab = new Lab();
    lab.add(1);
    lab.add(2, 3);
    lab.start(1, 2);
    lab.advance(3000);
    const one = lab.node(1);
    expect(one.beaconHeard(lab.now, { id: idOf(2), endpoint: "10.0.0.2:0", incarnation: 2, leaving: true }).events).toEqual([]);
    expect(lab.stateOf(1, 2)).toBe("alive");
    const out = one.beaconHeard(lab.now, { id: idOf(2), endpoint: "10.0.0.2:0", incarnation: 3, leaving: true });
    expect(out.events.map((e) => [e.change, e.peer.id])).toEqual([["left", idOf(2)]]);
  });

  it("after a partition, a member declared dead comes back: beacon, handshake, sync, refutation", () => {
    const lab = linked(1, 2);
    lab.split(1, 2);
    lab.advance(10_000);
    expect(lab.stateOf(1, 2)).toBe("dead");
    expect(lab.stateOf(2, 1)).toBe("dead");
    lab.split(1, 2, true);
    const healed = lab.now;
    lab.advance(5000);
    expect(lab.stateOf(1, 2)).toBe("alive");
    expect(lab.stateOf(2, 1)).toBe("alive");
    const back = lab.events.filter((e) => e.at >= healed && e.change === "alive").map((e) => [e.observer, e.peer]);
    expect(back.sort()).toEqual([[1, 2], [2, 1]]);
    // Each refuted the death it was told of: both incarnations went up.
    expect(lab.node(1).self.incarnation).toBeGreaterThan(0);
    expect(lab.node(2).self.incarnation).toBeGreaterThan(0);
    const kinds = new Set(lab.delivered.filter((d) => d.message.kind !== "ping" && d.message.kind !== "ack").map((d) => d.message.kind));
    expect([...kinds].sort()).toEqual(["gossip", "pong", "ready", "sync"]);
  });
});

describe("membership: leader", () => {
  it("is the lowest live id, for everyone, and changes when it dies", () => {
    const lab = linked(1, 2, 3, 4);
    for (const n of [1, 2, 3, 4]) expect(lab.node(n).leaderOf(DOMAIN)).toBe(idOf(1));
    expect(lab.node(3).peers().filter((p) => p.leader).map((p) => p.id)).toEqual([idOf(1)]);
    lab.crashed.add(1);
    lab.advance(10_000);
    for (const n of [2, 3, 4]) expect(lab.node(n).leaderOf(DOMAIN)).toBe(idOf(2));
    expect(lab.node(4).peers().find((p) => p.id === idOf(2))?.leader).toBe(true);
    expect(lab.node(4).leaderOf("another domain")).toBeUndefined();
  });

  it("only the leader, or a nameserver alone, beacons every second; the others ten times less often", () => {
    const lab = linked(1, 2, 3);
    const from = lab.now;
    let beacons = 0;
    const count = (n: number, out: MembershipOutput): MembershipOutput => {
      if (out.beacon) beacons += n === 1 ? 1 : 1000;
      return out;
    };
    const handle = lab.handle.bind(lab);
    lab.handle = (n, out) => handle(n, count(n, out));
    lab.advance(30_000);
    const leader = beacons % 1000;
    const others = Math.floor(beacons / 1000);
    expect(leader).toBeGreaterThanOrEqual(27);
    expect(leader).toBeLessThanOrEqual(33);
    // Two members, each about every 10 s, over 30 s.
    expect(others).toBeGreaterThanOrEqual(4);
    expect(others).toBeLessThanOrEqual(8);
    expect(lab.now - from).toBe(30_000);
  });
});
