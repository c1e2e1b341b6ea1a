/**
 * Many Membership state machines in one process, on a virtual clock, over a simulated
 * network: how convergence, failure detection and bandwidth are measured at a scale no
 * test machine has (FEDERATION.md, "The protocol core has no I/O"). Pure and
 * deterministic: every random choice, the nodes' included, comes from the seeded
 * generator given, so a run is replayed by its seed.
 *
 * Each node is woken only at its own `nextDeadline()`, not ticked every few ms, so a
 * thousand nodes for ten virtual minutes take seconds. Messages are carried as JSON and
 * validated with parsePeerMessage at delivery, as a real link would; beacons are encoded
 * and decoded with the real frame.
 */
import { decodeBeacon, encodeBeacon, isBeaconRejection } from "./beacon-frame.js";
import type { MemberState, PeerChange } from "./member.js";
import { Membership, type HeardBeacon, type MembershipOutput } from "./membership.js";
import type { MembershipTiming } from "./membership-timing.js";
import { parsePeerMessage, type PeerMessage } from "./peer-message.js";
import { BEACON_OVERHEAD, messageBytes, type NetworkConditions } from "./sim-network.js";
import { SimWorld } from "./sim-world.js";

/** pending: not started yet; crashed: stopped silently; left: stopped gracefully. */
export type SimNodeStatus = "pending" | "running" | "crashed" | "left";

/** What a node sent and received, in messages and bytes on the wire (see sim-network.ts). */
export interface SimNodeStats {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  beaconsSent: number;
  beaconBytesSent: number;
  beaconsReceived: number;
  beaconBytesReceived: number;
  /** Messages parsePeerMessage refused at delivery: a bug in the core if ever non-zero. */
  refused: number;
}

/** One simulated nameserver, as observers see it. */
export interface SimNode {
  readonly index: number;
  readonly id: string;
  readonly endpoint: string;
  readonly domain: string;
  readonly membership: Membership;
  readonly status: SimNodeStatus;
  /** Stalled (processing nothing) until this virtual time. */
  readonly stalledUntil: number;
  /**
   * What this node holds about every other node it knows (by id), from its own events (a
   * member forgotten after `forgetAfter` keeps its last state here).
   */
  readonly view: ReadonlyMap<string, MemberState>;
  readonly stats: Readonly<SimNodeStats>;
}

/** A node's events, as they happen. */
export type SimListener = (observer: SimNode, change: PeerChange, now: number) => void;

/** A message as a node reads it (validated), with who sent it. */
export type SimMessageListener = (from: SimNode, to: SimNode, message: PeerMessage, now: number) => void;

/** How a Simulator runs: its generator, network and protocol timing. */
export interface SimulatorOptions {
  /** The seeded generator every random choice comes from (test/seeded.ts's prng, say). */
  readonly random: () => number;
  readonly cluster?: string;
  /** Default: delay uniform in 0.5..5 ms, no loss. */
  readonly network?: Partial<NetworkConditions>;
  readonly timing?: Partial<MembershipTiming>;
  /**
   * What a node does first when a stall ends. A paused Node.js process runs its expired
   * timers before it reads pending I/O ("timers-first", the default); "messages-first" is
   * the kinder order.
   */
  readonly resume?: "timers-first" | "messages-first";
}

/** Options of one node. */
export interface SimNodeOptions {
  /** When it starts (virtual ms); default now. */
  readonly at?: number;
  readonly domain?: string;
  /** Default: 32 random hex characters. */
  readonly id?: string;
  readonly incarnation?: number;
  readonly timing?: Partial<MembershipTiming>;
}

type Backlogged = { readonly kind: "message"; readonly from: Node; readonly json: string; readonly bytes: number } | { readonly kind: "beacon"; readonly beacon: HeardBeacon; readonly bytes: number };

interface Node extends SimNode {
  status: SimNodeStatus;
  stalledUntil: number;
  readonly view: Map<string, MemberState>;
  readonly stats: SimNodeStats;
  backlog: Backlogged[];
  /** Time of the earliest pending timer event, and its generation (older ones are void). */
  timerAt: number;
  timerGeneration: number;
  /** When the last message this node sent to each other node (by index) arrives. */
  readonly lastArrival: Map<number, number>;
  /** Guard against a core whose deadline does not advance. */
  firesAtSameTime: number;
  lastFire: number;
}

const PORT = 9090;

/** A simulated federation: nodes, a network, a virtual clock. */
export class Simulator extends SimWorld {
  readonly cluster: string;
  readonly #options: SimulatorOptions;
  readonly #random: () => number;
  readonly #nodes: Node[] = [];
  readonly #byEndpoint = new Map<string, Node>();
  readonly #byId = new Map<string, Node>();
  readonly #byDomain = new Map<string, Node[]>();
  readonly #listeners = new Set<SimListener>();
  readonly #messageListeners = new Set<SimMessageListener>();
  #running = 0;

  constructor(options: SimulatorOptions) {
    super(options.network, options.random);
    this.#options = options;
    this.#random = options.random;
    this.cluster = options.cluster ?? "sim";
  }

  /** A number in [0, 1) from the simulation's seeded generator. */
  random(): number {
    return this.#random();
  }

  /** Every node ever added, by index. */
  get nodes(): readonly SimNode[] {
    return this.#nodes;
  }

  /** Nodes started and neither crashed nor left (stalled ones included). */
  running(): SimNode[] {
    return this.#nodes.filter((node) => node.status === "running");
  }

  /** How many nodes `running()` would return. */
  get runningCount(): number {
    return this.#running;
  }

  node(id: string): SimNode | undefined {
    return this.#byId.get(id);
  }

  /** Adds a nameserver that starts at `options.at` (default now). */
  addNode(options: SimNodeOptions = {}): SimNode {
    const index = this.#nodes.length;
    const id = options.id ?? this.newId((id) => this.#byId.has(id));
    const endpoint = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${(index & 255) + 1}:${PORT}`;
    const domain = options.domain ?? "10.255.255.255";
    const membership = new Membership({
      cluster: this.cluster,
      id,
      endpoint,
      domain,
      random: this.#random,
      ...(options.incarnation !== undefined && { incarnation: options.incarnation }),
      timing: { ...this.#options.timing, ...options.timing },
    });
    const node: Node = {
      index, id, endpoint, domain, membership,
      status: "pending", stalledUntil: -Infinity, view: new Map(), backlog: [],
      stats: { messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0, beaconsSent: 0, beaconBytesSent: 0, beaconsReceived: 0, beaconBytesReceived: 0, refused: 0 },
      timerAt: Infinity, timerGeneration: 0, firesAtSameTime: 0, lastFire: -1, lastArrival: new Map(),
    };
    this.#nodes.push(node);
    this.#byEndpoint.set(endpoint, node);
    this.#byId.set(id, node);
    const peers = this.#byDomain.get(domain) ?? [];
    peers.push(node);
    this.#byDomain.set(domain, peers);
    this.queue.schedule(options.at ?? this.now, () => {
      if (node.status !== "pending") return;
      node.status = "running";
      this.#running++;
      this.#step(node, membership.start(this.now));
    });
    return node;
  }

  /** The node stops silently: no message, no beacon. */
  crash(node: SimNode): void {
    this.#halt(this.#own(node), "crashed");
  }

  /** Graceful stop: what `leave()` returns is sent, then the node stops. */
  stop(node: SimNode): void {
    const own = this.#own(node);
    if (own.status !== "running") return;
    const out = own.membership.leave();
    this.#halt(own, "left");
    this.#dispatch(own, out);
  }

  /**
   * The node processes nothing for `ms`: messages and beacons reaching it wait, its timers
   * do not fire; when the stall ends it catches up (see SimulatorOptions.resume).
   */
  stall(node: SimNode, ms: number): void {
    const own = this.#own(node);
    if (own.status !== "running") return;
    own.stalledUntil = Math.max(own.stalledUntil, this.now + ms);
    this.queue.schedule(own.stalledUntil, () => this.#resume(own));
  }

  /** Calls `listener` with every event of every node; returns the unsubscribe function. */
  onEvent(listener: SimListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` with every message a node reads; returns the unsubscribe function. */
  onMessage(listener: SimMessageListener): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  #own(node: SimNode): Node {
    const own = this.#nodes[node.index];
    if (own !== node) throw new Error(`node ${node.id} is not of this simulator`);
    return own;
  }

  #halt(node: Node, status: "crashed" | "left"): void {
    if (node.status === "crashed" || node.status === "left") return;
    if (node.status === "running") this.#running--;
    node.status = status;
    node.backlog = [];
    node.timerGeneration++;
    node.timerAt = Infinity;
  }

  #stalled(node: Node): boolean {
    return this.now < node.stalledUntil;
  }

  /** Carries out one step's output, then makes sure the node wakes at its next deadline. */
  #step(node: Node, out: MembershipOutput): void {
    this.#dispatch(node, out);
    this.#schedule(node);
  }

  #schedule(node: Node): void {
    if (node.status !== "running") return;
    const due = node.membership.nextDeadline();
    if (due >= node.timerAt) return;
    node.timerAt = due;
    const generation = ++node.timerGeneration;
    this.queue.schedule(due, () => this.#fire(node, generation));
  }

  #fire(node: Node, generation: number): void {
    if (generation !== node.timerGeneration || node.status !== "running") return;
    node.timerAt = Infinity;
    if (this.#stalled(node)) return;
    if (node.lastFire === this.now) {
      if (++node.firesAtSameTime > 1000) throw new Error(`node ${node.id}: nextDeadline() does not advance past ${this.now}`);
    } else {
      node.lastFire = this.now;
      node.firesAtSameTime = 0;
    }
    this.#step(node, node.membership.tick(this.now));
  }

  #resume(node: Node): void {
    if (node.status !== "running" || this.#stalled(node)) return;
    const backlog = node.backlog;
    node.backlog = [];
    const timersFirst = (this.#options.resume ?? "timers-first") === "timers-first";
    if (timersFirst) this.#dispatch(node, node.membership.tick(this.now));
    for (const item of backlog) {
      if (node.status !== "running") return;
      this.#take(node, item);
    }
    if (!timersFirst && node.status === "running") this.#dispatch(node, node.membership.tick(this.now));
    node.timerAt = Infinity;
    node.timerGeneration++;
    this.#schedule(node);
  }

  #dispatch(node: Node, out: MembershipOutput): void {
    for (const change of out.events) {
      node.view.set(change.peer.id, change.peer.state);
      for (const listener of this.#listeners) listener(node, change, this.now);
    }
    for (const { to, message } of out.sends) {
      const json = JSON.stringify(message);
      const bytes = messageBytes(json);
      node.stats.messagesSent++;
      node.stats.bytesSent += bytes;
      this.count(message.kind, bytes);
      const receiver = this.#byEndpoint.get(to.endpoint);
      if (!receiver || this.network.lost()) continue;
      // One link is one TCP connection: what a node sends another arrives in order.
      const at = Math.max(this.now + this.network.delay(), node.lastArrival.get(receiver.index) ?? 0);
      node.lastArrival.set(receiver.index, at);
      this.queue.schedule(at, () => this.#deliver(node, receiver, { kind: "message", from: node, json, bytes }));
    }
    if (out.beacon) this.#broadcast(node, out.beacon.leaving);
  }

  #broadcast(node: Node, leaving: boolean): void {
    const self = node.membership.self;
    const frame = encodeBeacon({ cluster: this.cluster, id: node.id, port: leaving ? 0 : PORT, incarnation: self.incarnation, digest: 0, ...(self.key && { key: self.key }) });
    const bytes = frame.length + BEACON_OVERHEAD;
    node.stats.beaconsSent++;
    node.stats.beaconBytesSent += bytes;
    this.count("beacon", bytes);
    // One delay per broadcast: a datagram on a LAN reaches every host at about the same time.
    this.queue.schedule(this.now + this.network.delay(), () => {
      const decoded = decodeBeacon(frame);
      if (isBeaconRejection(decoded)) throw new Error(`own beacon refused: ${decoded.rejected}`);
      const host = node.endpoint.slice(0, node.endpoint.lastIndexOf(":"));
      const beacon: HeardBeacon = { id: decoded.id, endpoint: `${host}:${decoded.port}`, incarnation: decoded.incarnation, leaving: decoded.port === 0, ...(decoded.key && { key: decoded.key }) };
      for (const receiver of this.#byDomain.get(node.domain) ?? []) {
        if (receiver === node || receiver.status !== "running" || !this.network.reachable(node.index, receiver.index) || this.network.lost()) continue;
        this.#arrive(receiver, { kind: "beacon", beacon, bytes });
      }
    });
  }

  #deliver(from: Node, to: Node, item: Backlogged): void {
    if (to.status !== "running" || !this.network.reachable(from.index, to.index)) return;
    this.#arrive(to, item);
  }

  #arrive(node: Node, item: Backlogged): void {
    if (this.#stalled(node)) node.backlog.push(item);
    else {
      this.#take(node, item);
      this.#schedule(node);
    }
  }

  /** The node reads one message or beacon. */
  #take(node: Node, item: Backlogged): void {
    if (item.kind === "beacon") {
      node.stats.beaconsReceived++;
      node.stats.beaconBytesReceived += item.bytes;
      this.#dispatch(node, node.membership.beaconHeard(this.now, item.beacon));
      return;
    }
    node.stats.messagesReceived++;
    node.stats.bytesReceived += item.bytes;
    let message;
    try {
      message = parsePeerMessage(JSON.parse(item.json));
    } catch {
      node.stats.refused++;
      return;
    }
    for (const listener of this.#messageListeners) listener(item.from, node, message, this.now);
    this.#dispatch(node, node.membership.receive(this.now, message));
  }
}
