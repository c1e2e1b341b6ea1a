/**
 * Registry replication at scale, on a virtual clock: one RegistryReplica per simulated
 * nameserver, over the membership simulator's network model (SimNetwork: delay, loss,
 * partitions) and clock (EventQueue), seeded, so a run is replayed by its seed.
 *
 * Membership is fixed and converged, not simulated: each node starts with every other
 * node up, and a partition's membership view (dead, then alive again) is scripted by the
 * caller through `memberDown`/`memberUp`. Why not a Membership beside each replica: the
 * Simulator runs no foreign messages over its network, and 1,000 Membership nodes take
 * minutes of wall time just to converge. Membership's own figures (join, death, heal) are
 * measured by simulator.ts; the figures here are replication's share, which is what its
 * goals are about, and a scripted membership makes each one attributable to it.
 *
 * Membership reports are carried as ReplicationDriver carries them: joined or alive is
 * `peerUp`, dead or left is `peerDown`, and a replica message from a member that is not
 * live is ignored. Messages travel as JSON and are validated with parseReplicaMessage at
 * delivery, as a real link would; what one link carries arrives in order (one TCP
 * connection).
 */
import { RegistryReplica, type NameEvent, type ReplicaOutput } from "./registry-replica.js";
import { parseReplicaMessage, type ReplicaMessage } from "./replica-message.js";
import type { ReplicaTiming } from "./replica-timing.js";
import { messageBytes, type NetworkConditions } from "./sim-network.js";
import { SimWorld } from "./sim-world.js";

/** What one node sent and received, in replica messages and bytes on the wire. */
export interface ReplicaNodeStats {
  messagesSent: number;
  bytesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Messages parseReplicaMessage refused at delivery: a bug in the core if ever non-zero. */
  refused: number;
  /** Messages from a member this node does not hold live: ignored, as the driver does. */
  notMember: number;
}

/** One simulated nameserver's replica, as observers see it. */
export interface ReplicaSimNode {
  readonly index: number;
  readonly id: string;
  readonly replica: RegistryReplica;
  /** Peers this node's membership holds live (joined or alive, not dead or left). */
  readonly live: ReadonlySet<string>;
  readonly stats: Readonly<ReplicaNodeStats>;
}

/** A node's naming events, as they happen. */
export type ReplicaEventListener = (node: ReplicaSimNode, event: NameEvent, now: number) => void;

/** How a ReplicationSimulator runs. */
export interface ReplicationSimOptions {
  /** The seeded generator every random choice comes from, the replicas' included. */
  readonly random: () => number;
  readonly nodes: number;
  /** Default: delay uniform in 0.5..5 ms, no loss (as the membership simulator). */
  readonly network?: Partial<NetworkConditions>;
  readonly timing?: Partial<ReplicaTiming>;
}

interface Node extends ReplicaSimNode {
  readonly live: Set<string>;
  readonly stats: ReplicaNodeStats;
  timerAt: number;
  timerGeneration: number;
  /** When the last message this node sent to each other node (by index) arrives. */
  readonly lastArrival: Map<number, number>;
}

/** A simulated cluster of registry replicas over a fixed, converged membership. */
export class ReplicationSimulator extends SimWorld {
  readonly #random: () => number;
  readonly #nodes: Node[] = [];
  readonly #byId = new Map<string, Node>();
  readonly #listeners = new Set<ReplicaEventListener>();

  constructor(options: ReplicationSimOptions) {
    super(options.network, options.random);
    this.#random = options.random;
    for (let index = 0; index < options.nodes; index++) {
      const id = this.newId((id) => this.#byId.has(id));
      const replica = new RegistryReplica({ self: id, random: options.random, ...(options.timing && { timing: options.timing }) });
      const node: Node = {
        index, id, replica, live: new Set(), timerAt: Infinity, timerGeneration: 0, lastArrival: new Map(),
        stats: { messagesSent: 0, bytesSent: 0, messagesReceived: 0, bytesReceived: 0, refused: 0, notMember: 0 },
      };
      this.#nodes.push(node);
      this.#byId.set(id, node);
    }
    // Converged membership: everyone joined everyone. The digests these joins send are not
    // carried: every replica is empty, so each exchange would carry nothing, and at 1,000
    // nodes they are a million messages that change no state.
    for (const node of this.#nodes) {
      for (const peer of this.#nodes) if (peer !== node) node.live.add(peer.id);
      for (const peer of this.#nodes) if (peer !== node) node.replica.peerUp(this.now, peer.id);
      this.#schedule(node);
    }
  }

  /** A number in [0, 1) from the simulation's seeded generator. */
  random(): number {
    return this.#random();
  }

  get nodes(): readonly ReplicaSimNode[] {
    return this.#nodes;
  }

  node(id: string): ReplicaSimNode | undefined {
    return this.#byId.get(id);
  }

  /** Registers `name` on `node` (its origin), now. */
  register(node: ReplicaSimNode, name: string, uri: string, metadata: readonly string[] = []): void {
    const own = this.#own(node);
    this.#step(own, own.replica.register(this.now, name, uri, metadata));
  }

  /** Removes `node`'s own registration of `name`, now. */
  remove(node: ReplicaSimNode, name: string): void {
    const own = this.#own(node);
    this.#step(own, own.replica.remove(this.now, name));
  }

  /** Replaces the tags of `node`'s own registration of `name`, now. */
  setMetadata(node: ReplicaSimNode, name: string, metadata: readonly string[]): void {
    const own = this.#own(node);
    this.#step(own, own.replica.setMetadata(this.now, name, metadata));
  }

  /** `node`'s membership reports `peer` joined or alive again (the driver's peerUp). */
  memberUp(node: ReplicaSimNode, peer: ReplicaSimNode): void {
    const own = this.#own(node);
    own.live.add(peer.id);
    this.#step(own, own.replica.peerUp(this.now, peer.id));
  }

  /** `node`'s membership reports `peer` dead or left (the driver's peerDown). */
  memberDown(node: ReplicaSimNode, peer: ReplicaSimNode): void {
    const own = this.#own(node);
    own.live.delete(peer.id);
    this.#step(own, own.replica.peerDown(this.now, peer.id));
  }

  /** Replica messages sent so far by every node. */
  messagesSent(): number {
    let n = 0;
    for (const { messages } of Object.values(this.traffic())) n += messages;
    return n;
  }

  /** Calls `listener` with every naming event of every node; returns the unsubscribe function. */
  onEvent(listener: ReplicaEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #own(node: ReplicaSimNode): Node {
    const own = this.#nodes[node.index];
    if (own !== node) throw new Error(`node ${node.id} is not of this simulator`);
    return own;
  }

  #step(node: Node, out: ReplicaOutput): void {
    this.#dispatch(node, out);
    this.#schedule(node);
  }

  /** Wakes the node at its replica's next deadline (a later one than already set changes nothing). */
  #schedule(node: Node): void {
    const due = node.replica.nextDeadline();
    if (due >= node.timerAt) return;
    node.timerAt = due;
    const generation = ++node.timerGeneration;
    this.queue.schedule(due, () => {
      if (generation !== node.timerGeneration) return;
      node.timerAt = Infinity;
      this.#step(node, node.replica.tick(this.now));
    });
  }

  #dispatch(node: Node, out: ReplicaOutput): void {
    for (const event of out.events) for (const listener of this.#listeners) listener(node, event, this.now);
    for (const { to, message } of out.sends) {
      const receiver = this.#byId.get(to);
      // The driver drops a member's contact when it goes down: nothing is sent to it.
      if (!receiver || !node.live.has(to)) continue;
      const json = JSON.stringify(message);
      const bytes = messageBytes(json);
      node.stats.messagesSent++;
      node.stats.bytesSent += bytes;
      this.count(message.kind, bytes);
      if (this.network.lost()) continue;
      const at = Math.max(this.now + this.network.delay(), node.lastArrival.get(receiver.index) ?? 0);
      node.lastArrival.set(receiver.index, at);
      this.queue.schedule(at, () => this.#deliver(node, receiver, json, bytes));
    }
  }

  #deliver(from: Node, to: Node, json: string, bytes: number): void {
    if (!this.network.reachable(from.index, to.index)) return;
    to.stats.messagesReceived++;
    to.stats.bytesReceived += bytes;
    let message: ReplicaMessage;
    try {
      message = parseReplicaMessage(JSON.parse(json));
    } catch {
      to.stats.refused++;
      return;
    }
    if (!to.live.has(message.from)) {
      to.stats.notMember++;
      return;
    }
    this.#step(to, to.replica.receive(this.now, message));
  }
}
