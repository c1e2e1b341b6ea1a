/**
 * An active/standby pair of nameservers (pair-link.ts, replica-takeover.ts) without sockets:
 * replication drivers wired to each other in one process, every message and request through
 * JSON and its parser as a link would carry it. Membership is played by the test.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../src/config/config-error.js";
import { readNameServerProfiles } from "../src/config/nameserver-profiles.js";
import { YamlSource } from "../src/config/yaml-source.js";
import { checkFederationOptions } from "../src/federation/federation-options.js";
import type { PeerChangeKind, PeerInfo } from "../src/federation/member.js";
import type { NameRecord } from "../src/federation/name-record.js";
import { PAIR_ACK_MS, type OwnNames } from "../src/federation/pair-link.js";
import { parsePairAnswer, parsePairRequest, type PairAnswer, type PairRequest } from "../src/federation/pair-message.js";
import { PeerInbox } from "../src/federation/peer-inbox.js";
import type { PeerAddress } from "../src/federation/peer-links.js";
import { RegistryReplica, type NameEvent } from "../src/federation/registry-replica.js";
import { parseReplicaMessage, type ReplicaMessage } from "../src/federation/replica-message.js";
import { ReplicationDriver } from "../src/federation/replication-driver.js";

const idOf = (n: number): string => n.toString(16).padStart(32, "0");
const uri = (object: string, port = 9100): string => `PYRO:${object}@10.0.0.1:${port}`;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const roundTrip = <T>(value: T): unknown => JSON.parse(JSON.stringify(value));

/** A storage that records what the pair wrote to it. */
class Storage implements OwnNames {
  readonly names = new Map<string, string>();
  put = ({ name, uri: u }: { readonly name: string; readonly uri: string }): void => void this.names.set(name, u);
  remove = (names: readonly string[]): void => names.forEach((name) => this.names.delete(name));
  get sorted(): string[] {
    return [...this.names].map(([name, u]) => `${name}=${u}`).sort();
  }
}

interface Node {
  readonly name: string;
  readonly id: string;
  readonly endpoint: string;
  readonly driver: ReplicationDriver;
  readonly storage: Storage;
  readonly events: NameEvent[];
  /** Requests to it are never answered (a nameserver dying, or stalled). */
  silent: boolean;
  /** Requests to it are carried out, but the answers and its messages are lost. */
  deaf: boolean;
}

/** Nameservers by endpoint, linked by a queue of oneway messages and by answered requests. */
class Lab {
  readonly nodes = new Map<string, Node>();
  readonly #queue: { from: string; to: string; json: string }[] = [];
  /** Run after each delivered message: a condition that must hold all along. */
  invariant: () => void = () => {};

  add(name: string, id: string, options: { pair?: string; version?: number; restore?: readonly [string, string][] } = {}): Node {
    const endpoint = `${name}.lab:9090`;
    const storage = new Storage();
    const node: Node = {
      name, id, endpoint, storage, events: [], silent: false, deaf: false,
      driver: new ReplicationDriver(id, {
        send: (to: PeerAddress, message: ReplicaMessage) => void this.#queue.push({ from: endpoint, to: to.endpoint, json: JSON.stringify(message) }),
        emit: (event) => void node.events.push(event),
        request: (to, request) => this.#request(to, request),
        ...(options.pair && { pair: `${options.pair}.lab:9090` }),
        ...(options.version !== undefined && { counters: { version: options.version, clock: options.version, reached: () => {} } }),
        storage,
        warn: () => {},
      }),
    };
    this.nodes.set(endpoint, node);
    if (options.restore) {
      // As a nameserver publishes its stored names in the turn its federation starts.
      node.driver.restoring();
      for (const [n, u] of options.restore) {
        storage.put({ name: n, uri: u });
        void node.driver.register(n, u, []);
      }
      node.driver.restored();
    }
    return node;
  }

  /** `viewer` hears that `subject` joined, became suspect, dead, left or alive again. */
  member(viewer: Node, subject: Node, change: PeerChangeKind): void {
    const state = change === "joined" ? "alive" : change;
    const peer: PeerInfo = { id: subject.id, endpoint: subject.endpoint, domain: "d", incarnation: 0, state, host: "lab", lastHeard: null, leader: false, self: false };
    viewer.driver.memberChanged(Date.now(), { change, peer });
  }

  /** Registers on `node` as its NameServer does: its storage, then the cluster (the acknowledgement, if any). */
  register = (node: Node, name: string, u: string): Promise<void> | undefined => (node.storage.put({ name, uri: u }), node.driver.register(name, u, []));
  remove = (node: Node, name: string): Promise<void> | undefined => (node.storage.remove([name]), node.driver.remove(name));

  /** Both hear of each other. */
  link(a: Node, b: Node, change: PeerChangeKind = "joined"): void {
    this.member(a, b, change);
    this.member(b, a, change);
  }

  /** Delivers every message and answers every request, until nothing is left. */
  async settle(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      while (this.#queue.length > 0) {
        const { from, to, json } = this.#queue.shift()!;
        const node = this.nodes.get(to);
        if (!node || node.silent || this.nodes.get(from)?.deaf) continue;
        node.driver.receive(Date.now(), parseReplicaMessage(JSON.parse(json)));
        this.invariant();
      }
      await flush();
      if (this.#queue.length === 0) return;
    }
  }

  /** A view as a list of `name=uri@node`. */
  view(node: Node): string[] {
    return node.driver.list().map((r) => `${r.name}=${r.uri}@${this.#nameOf(r.origin)}`);
  }

  #nameOf(origin: string): string {
    return [...this.nodes.values()].find((n) => n.id === origin)?.name ?? origin.slice(-4);
  }

  async #request(to: PeerAddress, request: PairRequest): Promise<unknown> {
    const node = this.nodes.get(to.endpoint);
    if (!node || node.silent) return new Promise(() => {});
    await flush();
    const answer = node.driver.request(Date.now(), parsePairRequest(roundTrip(request)));
    this.invariant();
    if (node.deaf) return new Promise(() => {});
    return roundTrip(answer);
  }
}

/** Two nameservers paired with each other, linked. */
function pair(): { lab: Lab; a: Node; b: Node } {
  const lab = new Lab();
  const a = lab.add("a", idOf(1), { pair: "b" });
  const b = lab.add("b", idOf(2), { pair: "a" });
  lab.link(a, b);
  return { lab, a, b };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("pair acknowledgement", () => {
  it("a change on a paired nameserver returns once its partner holds it; an unpaired one returns at once", async () => {
    const { lab, a, b } = pair();
    await lab.settle();
    const ack = a.driver.register("lab.x", uri("x"), ["t"]);
    expect(ack).toBeInstanceOf(Promise);
    // Nothing was delivered by the oneway pushes: the confirmation alone carries it.
    await ack;
    expect(b.driver.lookup("lab.x")).toMatchObject({ uri: uri("x"), origin: a.id, metadata: ["t"] });
    await b.driver.setMetadata("lab.x", ["u"]); // not b's: no change, nothing to wait for
    await a.driver.setMetadata("lab.x", ["u"]);
    expect(b.driver.lookup("lab.x")?.metadata).toEqual(["u"]);
    await a.driver.remove("lab.x");
    expect(b.driver.lookup("lab.x")).toBeUndefined();
    expect(a.driver.stats.pair).toMatchObject({ confirmed: 3, unconfirmed: 0 });

    const single = lab.add("c", idOf(3));
    lab.link(single, a);
    expect(single.driver.register("lab.c", uri("c"), [])).toBeUndefined();
    expect(single.driver.stats.pair).toBeUndefined();
  });

  it("a partner that does not answer holds a change up PAIR_ACK_MS at most, and not at all once declared dead", async () => {
    const { lab, a, b } = pair();
    await lab.settle();
    b.silent = true;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let done = false;
    void a.driver.register("lab.late", uri("late"), [])!.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(PAIR_ACK_MS - 100);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(300);
    expect(done).toBe(true);
    expect(a.driver.stats.pair).toMatchObject({ confirmed: 0, unconfirmed: 1 });
    // The change stands here, whatever the partner did.
    expect(a.driver.lookup("lab.late")?.uri).toBe(uri("late"));

    let released = false;
    void a.driver.register("lab.later", uri("later"), [])!.then(() => (released = true));
    lab.member(a, b, "suspect");
    await vi.advanceTimersByTimeAsync(10);
    expect(released).toBe(false);
    lab.member(a, b, "dead");
    await vi.advanceTimersByTimeAsync(0);
    expect(released).toBe(true);
    // With the partner dead there is nothing to wait for.
    expect(a.driver.register("lab.alone", uri("alone"), [])).toBeUndefined();
  });
});

describe("takeover", () => {
  it("the survivor answers every name of its partner through suspicion and death, owns them (storage, removable), with no event", async () => {
    const { lab, a, b } = pair();
    const c = lab.add("c", idOf(3));
    lab.link(a, c);
    lab.link(b, c);
    await lab.settle();
    await a.driver.register("lab.x", uri("x"), []);
    await a.driver.register("lab.y", uri("y"), ["tag"]);
    await lab.settle();
    const before = lab.view(b);
    expect(before).toEqual([`lab.x=${uri("x")}@a`, `lab.y=${uri("y")}@a`]);
    b.events.length = 0;

    lab.member(b, a, "suspect");
    expect(lab.view(b)).toEqual(before);
    lab.member(b, a, "dead");
    expect(lab.view(b)).toEqual([`lab.x=${uri("x")}@b`, `lab.y=${uri("y")}@b`]);
    expect(b.driver.lookup("lab.y")?.metadata).toEqual(["tag"]);
    // The same URI and tags from another origin: nothing a client sees changed.
    expect(b.events).toEqual([]);
    expect(b.storage.sorted).toEqual([`lab.x=${uri("x")}`, `lab.y=${uri("y")}`]);
    expect(b.driver.stats.pair).toMatchObject({ adopted: 2 });

    // A third nameserver gets the survivor's copies once it too holds the partner dead.
    lab.member(c, a, "dead");
    await lab.settle();
    expect(lab.view(c)).toEqual([`lab.x=${uri("x")}@b`, `lab.y=${uri("y")}@b`]);
    expect(c.driver.conflicts()).toEqual([]);

    // Owned here now: removable here, and gone everywhere.
    b.driver.remove("lab.x");
    await lab.settle();
    expect(lab.view(b)).toEqual([`lab.y=${uri("y")}@b`]);
    expect(lab.view(c)).toEqual([`lab.y=${uri("y")}@b`]);
  });

  it("a name both hold for the same URI is not a conflict, nor taken over; another URI is a conflict", async () => {
    const { lab, a, b } = pair();
    await lab.settle();
    await a.driver.register("lab.same", uri("same"), []);
    // A daemon that registered on both (it moved): the same object, no conflict.
    await b.driver.register("lab.same", uri("same"), []);
    await a.driver.register("lab.other", uri("other", 1), []);
    await b.driver.register("lab.other", uri("other", 2), []);
    await lab.settle();
    for (const node of [a, b]) {
      expect(node.driver.conflicts().map((c) => c.name)).toEqual(["lab.other"]);
      // a claimed it first: b's registration loses it (and b's nameserver tells its clients).
      expect(node.events.filter((e) => e.kind === "conflict")).toEqual([{ kind: "conflict", name: "lab.other", winner: a.id, loser: b.id }]);
    }
    lab.member(b, a, "dead");
    expect(b.driver.stats.pair?.adopted).toBe(0);
    expect(lab.view(b)).toEqual([`lab.other=${uri("other", 2)}@b`, `lab.same=${uri("same")}@b`]);
  });
});

describe("handback", () => {
  /** A and B paired; A registered keep, move, doomed; A died, B took them over, then removed doomed, re-registered move elsewhere and registered fromB. */
  async function afterFailover(): Promise<{ lab: Lab; a: Node; b: Node }> {
    const { lab, a, b } = pair();
    await lab.settle();
    for (const name of ["keep", "move", "doomed"]) await lab.register(a, `pair.${name}`, uri(name));
    await lab.settle();
    lab.member(b, a, "dead");
    lab.nodes.delete(a.endpoint);
    expect(b.storage.sorted).toEqual([`pair.doomed=${uri("doomed")}`, `pair.keep=${uri("keep")}`, `pair.move=${uri("move")}`]);
    lab.remove(b, "pair.doomed");
    lab.register(b, "pair.move", uri("move", 9200));
    lab.register(b, "pair.fromB", uri("fromB"));
    return { lab, a, b };
  }

  it("the partner back with its old storage takes back what the survivor left unchanged; a name removed there stays removed, all along", async () => {
    const { lab, b } = await afterFailover();
    // Restarted with file storage: the same id, counters above the old ones, its stored names published again.
    const a = lab.add("a", idOf(1), { pair: "b", version: 1000, restore: [["pair.keep", uri("keep")], ["pair.move", uri("move")], ["pair.doomed", uri("doomed")]] });
    lab.invariant = () => {
      expect(b.driver.lookup("pair.doomed"), "pair.doomed shown on the survivor").toBeUndefined();
      expect(b.driver.lookup("pair.keep")?.uri, "pair.keep on the survivor").toBe(uri("keep"));
      expect(b.driver.lookup("pair.move")?.uri, "pair.move on the survivor").toBe(uri("move", 9200));
    };
    lab.link(a, b, "alive");
    lab.invariant();
    await lab.settle();
    const expected = [`pair.fromB=${uri("fromB")}@b`, `pair.keep=${uri("keep")}@a`, `pair.move=${uri("move", 9200)}@b`];
    expect(lab.view(a)).toEqual(expected);
    expect(lab.view(b)).toEqual(expected);
    for (const node of [a, b]) expect(node.driver.conflicts()).toEqual([]);
    expect(a.storage.sorted).toEqual([`pair.keep=${uri("keep")}`]);
    expect(b.storage.sorted).toEqual([`pair.fromB=${uri("fromB")}`, `pair.move=${uri("move", 9200)}`]);
    expect(a.driver.stats.pair).toMatchObject({ takenBack: 1 });
    expect(b.driver.stats.pair).toMatchObject({ handedBack: 1 });
    // Nothing is left to hand back: the partner's records show again, and stay.
    lab.invariant = () => {};
    lab.member(b, a, "suspect");
    lab.member(b, a, "alive");
    await lab.settle();
    expect(lab.view(b)).toEqual(expected);
  });

  it("the partner back with a new id (memory storage) gets its names back, and keeps what was registered on it again", async () => {
    const { lab, b } = await afterFailover();
    const a = lab.add("a", idOf(9), { pair: "b" });
    // A daemon that came back to it registered its name there again before the handback: not a
    // stale copy, so it stays, here for another URI than the survivor moved it to (a real conflict).
    await lab.register(a, "pair.move", uri("move"));
    lab.link(a, b, "joined");
    await lab.settle();
    expect(lab.view(a)).toEqual(lab.view(b));
    expect(lab.view(a).filter((line) => !line.startsWith("pair.move="))).toEqual([`pair.fromB=${uri("fromB")}@b`, `pair.keep=${uri("keep")}@a`]);
    expect(a.storage.sorted).toEqual([`pair.keep=${uri("keep")}`, `pair.move=${uri("move")}`]);
    for (const node of [a, b]) expect(node.driver.conflicts().map((c) => [c.name, c.winner.uri, c.losers.map((l) => l.uri)])).toHaveLength(1);
    // Its names are its own again: the new id answers for them, and it can remove them.
    expect(a.driver.lookup("pair.keep")?.origin).toBe(a.id);
    await lab.remove(a, "pair.keep");
    await lab.settle();
    expect(b.driver.lookup("pair.keep")).toBeUndefined();
    expect(b.storage.sorted).toEqual([`pair.fromB=${uri("fromB")}`, `pair.move=${uri("move", 9200)}`]);
  });

  it("a handback whose answer is lost is sent again, and the survivor answers every name all along", async () => {
    const { lab, b } = await afterFailover();
    const a = lab.add("a", idOf(1), { pair: "b", version: 1000 });
    lab.invariant = () => {
      expect(b.driver.lookup("pair.keep")?.uri, "pair.keep on the survivor").toBe(uri("keep"));
    };
    // Everything it sends is lost: its records, and its answer to the handback.
    a.deaf = true;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    lab.link(a, b, "alive");
    b.driver.tick(Date.now() + 2500);
    await lab.settle();
    expect(a.driver.stats.pair).toMatchObject({ takenBack: 1 });
    expect(b.driver.stats.pair).toMatchObject({ handedBack: 0 });
    await vi.advanceTimersByTimeAsync(3000);
    a.deaf = false;
    b.driver.tick(Date.now() + 5000);
    vi.useRealTimers();
    await lab.settle();
    expect(b.driver.stats.pair).toMatchObject({ handedBack: 1 });
    expect(lab.view(b)).toEqual([`pair.fromB=${uri("fromB")}@b`, `pair.keep=${uri("keep")}@a`, `pair.move=${uri("move", 9200)}@b`]);
  });

  it("a partition of the pair: each takes the other's names over, both answer everything, and once healed each has its own back", async () => {
    const { lab, a, b } = pair();
    await lab.settle();
    await lab.register(a, "part.a", uri("a"));
    await lab.register(a, "part.moved", uri("moved"));
    await lab.register(b, "part.b", uri("b"));
    await lab.settle();
    // Each declares the other dead: both answer every name.
    lab.member(a, b, "dead");
    lab.member(b, a, "dead");
    for (const node of [a, b]) expect(lab.view(node).map((line) => line.split("=")[0])).toEqual(["part.a", "part.b", "part.moved"]);
    // Meanwhile a's registrar moves its object: a's change, made while it was alive, stands.
    lab.register(a, "part.moved", uri("moved", 9300));
    lab.link(a, b, "alive");
    await lab.settle();
    const expected = [`part.a=${uri("a")}@a`, `part.b=${uri("b")}@b`, `part.moved=${uri("moved", 9300)}@a`];
    for (const node of [a, b]) {
      expect(lab.view(node)).toEqual(expected);
      expect(node.driver.conflicts()).toEqual([]);
      expect(node.driver.stats.pair).toMatchObject({ adopted: node === a ? 1 : 2 });
    }
    expect(a.storage.sorted).toEqual([`part.a=${uri("a")}`, `part.moved=${uri("moved", 9300)}`]);
    expect(b.storage.sorted).toEqual([`part.b=${uri("b")}`]);
  });

  it("a nameserver that is not paired with the survivor refuses its handback; the names stay the survivor's", async () => {
    const lab = new Lab();
    const a = lab.add("a", idOf(1));
    const b = lab.add("b", idOf(2), { pair: "a" });
    lab.link(a, b);
    await lab.settle();
    a.driver.register("solo.x", uri("x"), []);
    await lab.settle();
    lab.member(b, a, "dead");
    expect(lab.view(b)).toEqual([`solo.x=${uri("x")}@b`]);
    lab.member(b, a, "alive");
    await lab.settle();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    b.driver.tick(Date.now() + 5000);
    vi.useRealTimers();
    await lab.settle();
    expect(b.driver.stats.pair).toMatchObject({ refused: 1, handedBack: 0 });
    // Both hold it for the same URI: no conflict.
    expect(lab.view(b)).toEqual([`solo.x=${uri("x")}@a`]);
    expect(b.driver.conflicts()).toEqual([]);
  });
});

describe("pair requests from peers", () => {
  it("forged, stale and malformed requests get a typed refusal and change nothing", async () => {
    const { lab, a, b } = pair();
    const c = lab.add("c", idOf(3));
    lab.link(b, c);
    await lab.settle();
    await b.driver.register("lab.b", uri("b"), []);
    await lab.settle();
    const view = lab.view(b);
    const record = (origin: string, name = "lab.f"): NameRecord => ({ origin, version: 5, name, claim: 5, uri: uri("f"), metadata: [] });
    const ask = (request: PairRequest): PairAnswer => parsePairAnswer(roundTrip(b.driver.request(Date.now(), parsePairRequest(roundTrip(request)))));

    // From a nameserver that is no member (or no longer one).
    expect(ask({ kind: "confirm", from: idOf(7), records: [record(idOf(7))] })).toMatchObject({ kind: "refused", reason: "not-member" });
    // A member confirming another origin's records, or the receiver's own.
    expect(ask({ kind: "confirm", from: c.id, records: [record(a.id)] })).toMatchObject({ kind: "refused", reason: "forged" });
    expect(ask({ kind: "confirm", from: c.id, records: [record(b.id, "lab.b")] })).toMatchObject({ kind: "refused", reason: "forged" });
    // A handback from a member that is not the partner.
    expect(ask({ kind: "handback", from: c.id, entries: [{ name: "lab.b", uri: uri("b"), metadata: [], claim: 1, back: false }] })).toMatchObject({ kind: "refused", reason: "not-partner" });
    expect(lab.view(b)).toEqual(view);
    expect(b.storage.sorted).toEqual([]);

    // Malformed: refused at the inbox, before the driver sees it.
    const refused: unknown[] = [];
    const inbox = new PeerInbox({ membership: () => {}, replica: () => {}, pair: (request) => b.driver.request(Date.now(), request), refuse: (error) => void refused.push(error) });
    const bad: unknown[] = [
      null,
      { kind: "confirm", from: "nope", records: [] },
      { kind: "confirm", from: c.id, records: new Array(65).fill(record(c.id)) },
      { kind: "confirm", from: c.id, records: [{ ...record(c.id), uri: "PYRO:f@10.0.0.1:9100 " }] },
      { kind: "handback", from: a.id, entries: [{ name: "x", uri: uri("x"), metadata: ["b", "a"], claim: 1, back: true }] },
      { kind: "handback", from: a.id, entries: [{ name: "x", uri: uri("x"), metadata: [], claim: 0, back: true }] },
      { kind: "handback", from: a.id, entries: [{ name: "x", uri: uri("x"), metadata: [], claim: 1 }] },
      { kind: "takeover", from: a.id },
    ];
    for (const message of bad) expect(inbox.request(message)).toMatchObject({ kind: "refused", reason: "malformed" });
    expect(refused).toHaveLength(bad.length);
    expect(lab.view(b)).toEqual(view);

    // A valid confirmation from a member that is not the partner is accepted all the same.
    expect(inbox.request({ kind: "confirm", from: c.id, records: [record(c.id)] })).toEqual({ kind: "accepted", records: [] });
    expect(b.driver.lookup("lab.f")?.origin).toBe(c.id);
  });

  it("answers are checked too: a malformed or foreign one is not an acknowledgement", () => {
    expect(() => parsePairAnswer({ kind: "accepted" })).toThrow(/records/);
    expect(() => parsePairAnswer({ kind: "refused", reason: "tired", detail: "" })).toThrow(/reason/);
    expect(parsePairAnswer({ kind: "refused", reason: "forged", detail: "x".repeat(500) })).toMatchObject({ detail: "x".repeat(200) });
  });
});

describe("replica takeover, pure", () => {
  it("takes over in the step that hides the partner: its names never stop showing, and a later flap takes nothing back twice", () => {
    const a = new RegistryReplica({ self: idOf(1) });
    const b = new RegistryReplica({ self: idOf(2) });
    b.pairWith(a.self);
    b.peerUp(0, a.self);
    const x = a.register(0, "lab.x", uri("x")).record!;
    b.receive(1, { kind: "push", from: a.self, hops: 0, records: [x] });
    const out = b.takeover(2, a.self);
    expect(out.events).toEqual([]);
    expect(out.records).toMatchObject([{ origin: b.self, name: "lab.x", uri: uri("x"), claim: x.claim }]);
    expect(out.sends.map((s) => s.message.kind)).toEqual([]); // no live peer to push to
    expect(b.adopted).toBe(1);
    // Back and down again before any handback: the name is ours already.
    b.peerUp(3, a.self);
    expect(b.lookup("lab.x")?.origin).toBe(b.self);
    expect(b.takeover(4, a.self).records).toEqual([]);
    expect(b.handback()).toEqual([{ name: "lab.x", uri: uri("x"), metadata: [], claim: x.claim, back: true }]);
  });
});

describe("pair settings", () => {
  const profile = (settings: string) => readNameServerProfiles(YamlSource.parse(`nameservers:\n  - lab:\n${settings}`, "lab.yml")).get("lab")!;

  it("reads `pair` from a profile and checks it, as it checks the library's option", () => {
    expect(profile("      federation: lab\n      pair: 10.1.2.3:9090\n")).toMatchObject({ federation: "lab", pair: "10.1.2.3:9090" });
    expect(profile("      federation: lab\n").pair).toBeUndefined();
    for (const bad of ["nowhere", "[a, b]", "10.1.2.3:0"]) {
      expect(() => profile(`      federation: lab\n      pair: ${bad}\n`)).toThrow(ConfigError);
    }
    expect(() => profile("      federation: lab\n      pair: nowhere\n")).toThrow(/^lab\.yml:4: pair must be host:port/);
    expect(() => checkFederationOptions({ cluster: "lab", pair: "10.1.2.3:9090" })).not.toThrow();
    expect(() => checkFederationOptions({ cluster: "lab", pair: "host" })).toThrow(/pair must be the partner's host:port/);
    expect(() => checkFederationOptions({ cluster: "lab", pair: "10.1.2.3:9090?key=short" })).toThrow(/Z85/);
  });
});
